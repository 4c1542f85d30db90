"""Vault tokenize throughput and latency against a bare INSERT, on SQLite and PostgreSQL.

For each database (a temporary SQLite file, and a throwaway PostgreSQL database created on
the server at ``--postgres`` and dropped at the end) and for each concurrency (8 worker
threads, and 1 for reference), times in the same process, through the same engine, driver
and connection pool (``cardshield.storage.make_engine``):

* tokenize: ``Vault.tokenize(merchant, pan, expiry, cvv, now=...)`` with generated
  Luhn-valid PANs (``4`` + random digits + check digit) and a CVV into the in-memory volatile
  store: one transaction holding an INSERT into ``cards`` and an INSERT into ``audit_log``,
  plus the fingerprint HMAC, AES-256-GCM encryption and token generation.
* bare insert: one transaction (``engine.begin()``) holding one SQLAlchemy Core
  ``insert().values(...)`` of a pre-built row into ``bench_cards``, a table with the same
  columns, types, foreign keys and indexes as ``cards``. Each row has the byte sizes of a real
  ``cards`` row (same key id, BIN, expiry, a fresh 64-hex fingerprint, random bytes as long as
  a real ciphertext); tokens and fingerprints are made before the clock starts.

Each case runs after a warm-up, in rounds that alternate bare insert and tokenize so slow
drift (checkpoints, autovacuum, table growth) falls on both alike. Throughput is operations
divided by wall time; latency is per operation. Prints a table and, last, one JSON line; its
top-level ``tokenize_per_s``/``bare_insert_per_s``/``ratio`` repeat the PostgreSQL figures at
the main concurrency, the case the target is set for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Index,
    MetaData,
    Table,
    create_engine,
    select,
    text,
)

from cardshield.cards import CVV, PAN, Expiry, luhn_check_digit
from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.crypto.tokens import random_token
from cardshield.storage import make_engine, upgrade
from cardshield.storage.engine import normalize_url
from cardshield.storage.schema import cards
from cardshield.vault import MemoryCVVStore, Vault

TARGET_RATIO_POSTGRESQL = 0.5
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROUNDS = 4
EXPIRY = Expiry(2030, 12)
SINGLE_USE_TTL = timedelta(minutes=15)


def bench_table(metadata: MetaData) -> Table:
    """``bench_cards``: the columns, types, foreign keys and indexes of ``cards``."""
    columns = [
        Column(
            c.name,
            c.type,
            *[ForeignKey(fk.column) for fk in c.foreign_keys],
            primary_key=c.primary_key,
            nullable=c.nullable,
        )
        for c in cards.c
    ]
    table = Table("bench_cards", metadata, *columns)
    for index in cards.indexes:
        names = [c.name for c in index.columns]
        Index("ix_bench_cards_" + "_".join(names), *[table.c[n] for n in names])
    return table


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
    start_gate = threading.Barrier(workers + 1)

    def work(w: int) -> None:
        start_gate.wait()
        out = latencies[w]
        try:
            for op in shares[w]:
                t0 = time.perf_counter()
                op()
                out.append(time.perf_counter() - t0)
        except BaseException as exc:  # surfaced after join, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall, [x for lat in latencies for x in lat]


class Case:
    """One database, one concurrency: builds the operations and times them."""

    def __init__(self, engine: Engine, kms: KMSProvider, table: Table, merchant: str) -> None:
        # A fresh vault (key cache, volatile CVV store) per case, so cases don't share state.
        self.vault = Vault(engine, kms, MemoryCVVStore())
        self.engine = engine
        self.table = table
        self.merchant = merchant
        self.rng = random.Random(secrets.randbits(64))
        self.template: dict[str, Any] | None = None

    def tokenize_ops(self, n: int) -> list[Callable[[], None]]:
        cvv = CVV("123")

        def op(pan: PAN) -> Callable[[], None]:
            def tokenize() -> None:
                self.vault.tokenize(self.merchant, pan, EXPIRY, cvv, now=datetime.now(UTC))

            return tokenize

        return [op(p) for p in make_pans(n, self.rng)]

    def bare_ops(self, n: int) -> list[Callable[[], None]]:
        template = self._row_template()
        rows = []
        for _ in range(n):
            row = dict(template)
            row["token"] = random_token("tok_")
            row["fingerprint"] = secrets.token_hex(32)
            row["ciphertext"] = os.urandom(len(template["ciphertext"]))
            rows.append(row)

        def op(row: dict[str, Any]) -> Callable[[], None]:
            def insert() -> None:
                now = datetime.now(UTC)
                with self.engine.begin() as conn:
                    conn.execute(
                        self.table.insert().values(
                            **row, created_at=now, expires_at=now + SINGLE_USE_TTL
                        )
                    )

            return insert

        return [op(r) for r in rows]

    def _row_template(self) -> dict[str, Any]:
        # Copied from a real tokenized row, so sizes and key references match exactly.
        if self.template is None:
            with self.engine.connect() as conn:
                row = conn.execute(select(cards).limit(1)).one()._asdict()
            self.template = {k: v for k, v in row.items() if k not in ("created_at", "expires_at")}
        return self.template

    def run(self, n: int, warmup: int, workers: int) -> dict[str, float]:
        self.tokenize_ops(1)[0]()  # fills the key cache before threads race for it
        run_workers(self.bare_ops(warmup) + self.tokenize_ops(warmup), workers)
        per_round = max(1, n // ROUNDS)
        walls = {"bare": 0.0, "tok": 0.0}
        lats: dict[str, list[float]] = {"bare": [], "tok": []}
        for _ in range(ROUNDS):
            for name, build in (("bare", self.bare_ops), ("tok", self.tokenize_ops)):
                wall, lat = run_workers(build(per_round), workers)
                walls[name] += wall
                lats[name] += lat
        done = per_round * ROUNDS
        tok_s, bare_s = done / walls["tok"], done / walls["bare"]
        return {
            "ops": done,
            "tokenize_per_s": round(tok_s, 1),
            "bare_insert_per_s": round(bare_s, 1),
            "ratio": round(tok_s / bare_s, 3),
            "p50_ms": ms(lats["tok"], 50),
            "p99_ms": ms(lats["tok"], 99),
            "bare_p50_ms": ms(lats["bare"], 50),
            "bare_p99_ms": ms(lats["bare"], 99),
        }


def ms(samples: list[float], pct: int) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[pct - 1] * 1000, 3)


@contextmanager
def sqlite_url(filename: str = "vault.db") -> Iterator[str]:
    """A SQLite file in a temporary folder, removed afterwards (the payments bench uses it)."""
    with tempfile.TemporaryDirectory(prefix="cardshield-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / filename}"


@contextmanager
def postgres_url(admin_url: str, prefix: str = "cs_bench_") -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards (the payments bench uses it)."""
    name = prefix + secrets.token_hex(6)
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # any failure to reach the server: one line, no numbers
            raise SystemExit(
                f"PostgreSQL at --postgres is unusable ({type(exc).__name__}); "
                "start it or pass --postgres URL"
            ) from None
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def bench_database(url: str, n: int, warmup: int, levels: list[int]) -> dict[int, dict[str, float]]:
    engine = make_engine(url, pool_size=max(levels))
    try:
        upgrade(engine)
        metadata = MetaData()
        table = bench_table(metadata)
        metadata.create_all(engine)
        kms = open_kms("memory:")
        merchant = Vault(engine, kms, MemoryCVVStore()).create_merchant(
            "bench", now=datetime.now(UTC)
        )
        return {c: Case(engine, kms, table, merchant).run(n, warmup, c) for c in levels}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run (500 ops per case)")
    parser.add_argument("--ops", type=int, help="operations per case (default 4000)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers (default 8)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CARDSHIELD_BENCH_PG", DEFAULT_PG_ADMIN),
        help="admin URL of a PostgreSQL server to create a throwaway database on",
    )
    args = parser.parse_args()
    n = args.ops or (500 if args.quick else 4000)
    warmup = 50 if args.quick else 200
    levels = [args.workers] if args.workers == 1 else [args.workers, 1]

    results: dict[str, dict[int, dict[str, float]]] = {}
    # The PostgreSQL database is created first, so an unreachable server fails at once.
    with postgres_url(args.postgres) as pg_url, sqlite_url() as sqlite:
        results["sqlite"] = bench_database(sqlite, n, warmup, levels)
        results["postgresql"] = bench_database(pg_url, n, warmup, levels)

    print("baseline: one transaction with one INSERT of a pre-built cards-sized row into")
    print("          bench_cards (same columns, types, FKs, indexes as cards), same engine/pool")
    print("tokenize: Vault.tokenize with CVV: INSERT cards + INSERT audit_log in one transaction")
    print()
    header = (
        f"{'database':<11}{'workers':>8}{'ops':>7}{'tokenize/s':>12}{'bare/s':>10}"
        f"{'ratio':>8}{'tok p50':>9}{'tok p99':>9}{'bare p50':>9}{'bare p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for db, by_level in results.items():
        for c, r in by_level.items():
            print(
                f"{db:<11}{c:>8}{r['ops']:>7}{r['tokenize_per_s']:>12.0f}"
                f"{r['bare_insert_per_s']:>10.0f}{r['ratio']:>8.2f}{r['p50_ms']:>9.2f}"
                f"{r['p99_ms']:>9.2f}{r['bare_p50_ms']:>9.2f}{r['bare_p99_ms']:>9.2f}"
            )
    print("(latencies in ms; ratio = tokenize/s over bare/s)")
    main_pg = results["postgresql"][args.workers]
    summary: dict[str, Any] = {
        "bench": "vault",
        "tokenize_per_s": main_pg["tokenize_per_s"],
        "bare_insert_per_s": main_pg["bare_insert_per_s"],
        "ratio": main_pg["ratio"],
        "sqlite": results["sqlite"][args.workers],
        "postgresql": main_pg,
        "concurrency": args.workers,
        "target_ratio_postgresql": TARGET_RATIO_POSTGRESQL,
    }
    if args.workers != 1:
        summary["concurrency_1"] = {db: by_level[1] for db, by_level in results.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
