"""Payments throughput through the sandbox processor, against the bare tokenize operation.

For each database (a temporary SQLite file, and a throwaway PostgreSQL database created on
the server at ``--postgres`` and dropped at the end), in one process, with ``--workers``
threads (8 by default, and 1 for reference):

* payment: ``PaymentService.create(capture_method="manual", idempotency_key=...)`` then
  ``PaymentService.capture(idempotency_key=...)`` on a single-use token made before the
  clock starts. Each pair is: two idempotency-key claims and completions, phase 1
  (payment + pending operation + audit entry), ``Vault.use_for_forwarding`` (decrypt,
  consume the token, audit), the sandbox authorization in the sandbox's own transaction on
  its own engine, phase 3 (operation, payment at its version, event + delivery, audit
  entry), then the same phases for the capture (without the vault).
* tokenize: ``Vault.tokenize`` of a generated Luhn-valid card with a CVV into the in-memory
  volatile store (the vault bench's operation), through the same engine.

Rounds alternate the two so drift falls on both alike. Throughput is operations (one
authorize+capture pair, or one tokenize) divided by wall time. Prints a table and, last,
one JSON line; its top-level figures are PostgreSQL's at the main concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vault_bench import ms, postgres_url, sqlite_url  # same helpers as the vault bench

from cardshield.cards import CVV, PAN, Expiry, luhn_check_digit
from cardshield.crypto.kms import open_kms
from cardshield.gateways.sandbox import account_for, build
from cardshield.payments.service import PaymentService
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROUNDS = 4
EXPIRY = Expiry(2030, 12)


def make_pans(n: int, rng: random.Random) -> list[PAN]:
    """Generated 16-digit Visa-range numbers, Luhn-valid; never real cards."""
    pans = []
    for _ in range(n):
        partial = "4" + "".join(rng.choice("0123456789") for _ in range(14))
        pans.append(PAN(partial + luhn_check_digit(partial)))
    return pans


def run_workers(ops: list[Callable[[], None]], workers: int) -> tuple[float, list[float]]:
    """Run ``ops`` split over ``workers`` threads; (wall seconds, per-op latencies in s)."""
    shares = [ops[w::workers] for w in range(workers)]
    latencies: list[list[float]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []
    gate = threading.Barrier(workers + 1)

    def work(w: int) -> None:
        gate.wait()
        try:
            for op in shares[w]:
                t0 = time.perf_counter()
                op()
                latencies[w].append(time.perf_counter() - t0)
        except BaseException as exc:  # surfaced after join, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall, [x for lat in latencies for x in lat]


class Case:
    def __init__(self, url: str, workers: int) -> None:
        self.engine = make_engine(url, pool_size=workers + 2)
        upgrade(self.engine)
        self.vault = Vault(self.engine, open_kms("memory:"), MemoryCVVStore())
        self.sandbox = build({"database_url": url, "pool_size": workers + 2})
        sandbox = self.sandbox
        self.service = PaymentService(
            self.engine, self.vault, lambda m: (sandbox, account_for(m)), actor="bench"
        )
        self.merchant = self.vault.create_merchant("bench", now=datetime.now(UTC))
        self.rng = random.Random(secrets.randbits(64))

    def close(self) -> None:
        self.sandbox.close()
        self.engine.dispose()

    def tokenize_ops(self, n: int) -> list[Callable[[], None]]:
        cvv = CVV("123")

        def op(pan: PAN) -> Callable[[], None]:
            return lambda: (
                self.vault.tokenize(self.merchant, pan, EXPIRY, cvv, now=datetime.now(UTC)),
                None,
            )[1]

        return [op(p) for p in make_pans(n, self.rng)]

    def payment_ops(self, n: int) -> list[Callable[[], None]]:
        now = datetime.now(UTC)
        tokens = [
            self.vault.tokenize(self.merchant, pan, EXPIRY, CVV("123"), now=now).token
            for pan in make_pans(n, self.rng)
        ]

        def op(token: str) -> Callable[[], None]:
            def pay() -> None:
                key = secrets.token_hex(8)
                at = datetime.now(UTC)
                p = self.service.create(
                    self.merchant,
                    amount=2500,
                    currency="EUR",
                    token=token,
                    capture_method="manual",
                    idempotency_key=f"auth-{key}",
                    now=at,
                )
                done = self.service.capture(
                    self.merchant, p.id, idempotency_key=f"cap-{key}", now=at
                )
                if done.status != "captured":
                    raise RuntimeError(f"unexpected status {done.status}")

            return pay

        return [op(t) for t in tokens]

    def run(self, n: int, warmup: int, workers: int) -> dict[str, Any]:
        run_workers(self.tokenize_ops(warmup) + self.payment_ops(warmup), workers)
        per_round = max(1, n // ROUNDS)
        walls = {"pay": 0.0, "tok": 0.0}
        lats: dict[str, list[float]] = {"pay": [], "tok": []}
        for _ in range(ROUNDS):
            for name, build_ops in (("tok", self.tokenize_ops), ("pay", self.payment_ops)):
                wall, lat = run_workers(build_ops(per_round), workers)
                walls[name] += wall
                lats[name] += lat
        done = per_round * ROUNDS
        pay_s, tok_s = done / walls["pay"], done / walls["tok"]
        return {
            "ops": done,
            "authorize_capture_per_s": round(pay_s, 1),
            "tokenize_per_s": round(tok_s, 1),
            "ratio": round(pay_s / tok_s, 3),
            "p50_ms": ms(lats["pay"], 50),
            "p99_ms": ms(lats["pay"], 99),
            "tokenize_p50_ms": ms(lats["tok"], 50),
            "tokenize_p99_ms": ms(lats["tok"], 99),
        }


def bench_database(url: str, n: int, warmup: int, levels: list[int]) -> dict[int, dict[str, Any]]:
    results = {}
    for workers in levels:
        case = Case(url, workers)
        try:
            results[workers] = case.run(n, warmup, workers)
        finally:
            case.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (200 ops per case)")
    parser.add_argument("--ops", type=int, help="operations per case (default 1200)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers (default 8)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CARDSHIELD_BENCH_PG", DEFAULT_PG_ADMIN),
        help="admin URL of a PostgreSQL server to create a throwaway database on",
    )
    args = parser.parse_args()
    n = args.ops or (200 if args.quick else 1200)
    warmup = 20 if args.quick else 100
    levels = [args.workers] if args.workers == 1 else [args.workers, 1]

    results: dict[str, dict[int, dict[str, Any]]] = {}
    with postgres_url(args.postgres, "cs_paybench_") as pg_url, sqlite_url("payments.db") as sqlite:
        results["sqlite"] = bench_database(sqlite, n, warmup, levels)
        results["postgresql"] = bench_database(pg_url, n, warmup, levels)

    print("payment:  create(manual) + capture with Idempotency-Keys, sandbox processor in-process")
    print("tokenize: Vault.tokenize with CVV (the vault bench's operation), same engine")
    print()
    header = (
        f"{'database':<11}{'workers':>8}{'ops':>7}{'auth+cap/s':>12}{'tokenize/s':>12}"
        f"{'ratio':>8}{'pay p50':>9}{'pay p99':>9}{'tok p50':>9}{'tok p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for db, by_level in results.items():
        for c, r in by_level.items():
            print(
                f"{db:<11}{c:>8}{r['ops']:>7}{r['authorize_capture_per_s']:>12.0f}"
                f"{r['tokenize_per_s']:>12.0f}{r['ratio']:>8.3f}{r['p50_ms']:>9.2f}"
                f"{r['p99_ms']:>9.2f}{r['tokenize_p50_ms']:>9.2f}{r['tokenize_p99_ms']:>9.2f}"
            )
    print("(latencies in ms; ratio = authorize+capture pairs/s over tokenize/s)")
    main_pg = results["postgresql"][args.workers]
    summary: dict[str, Any] = {
        "bench": "payments",
        "authorize_capture_per_s": main_pg["authorize_capture_per_s"],
        "tokenize_per_s": main_pg["tokenize_per_s"],
        "ratio": main_pg["ratio"],
        "sqlite": results["sqlite"][args.workers],
        "postgresql": main_pg,
        "concurrency": args.workers,
    }
    if args.workers != 1:
        summary["concurrency_1"] = {db: by_level[1] for db, by_level in results.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
