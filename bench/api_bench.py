"""HTTP API throughput: tokenize and create-payment against a trivial endpoint of the same app.

For each database (a temporary SQLite file, and a throwaway PostgreSQL database created on
``--postgres`` and dropped at the end), ``cardshield serve`` runs in its own process with
its defaults (one worker, access log on, redacting JSON logs to a file). A load generator
in another process (asyncio + httpx, ``--clients`` connections kept alive) then runs, each
for ``--duration`` seconds after a short warm-up:

* healthz: ``GET /healthz``: routing, middleware and JSON, no database (the baseline, run
  first and again last; the ratios divide by the mean of the two);
* tokenize: ``POST /v1/tokens`` with a publishable key, a generated Luhn-valid card and a
  CVC (what the hosted fields send): key check, rate limiter, envelope encryption, insert,
  audit entry, CVC into the volatile store;
* payment: ``POST /v1/payments`` with a secret key and an ``Idempotency-Key``, charging a
  token made by the tokenize run (automatic capture through the sandbox processor).

Tokenization is rate limited per publishable key and client address (30 a minute) and per
key (3000 a minute). The generator spreads its requests over ``--keys`` publishable keys of
one merchant and gives each connection its own loopback source address (127.0.0.2, ...),
so the figures measure the path (the limiter still counts every request), not the limit;
any 429 would be counted as an error. Prints a table and, last, one JSON line with
requests per second, p50/p99 latency and the ratios to healthz; top-level figures are
PostgreSQL's when it ran, else SQLite's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCENARIOS = ("healthz", "tokenize", "payment")


# -- the load generator (its own process) ------------------------------------------------


def _card(rng: random.Random) -> dict[str, Any]:
    from cardshield.cards import luhn_check_digit

    partial = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    cvc = f"{rng.randrange(1000):03d}"
    return {
        "number": partial + luhn_check_digit(partial),
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": cvc,
    }


async def _client(
    index: int, spec: dict[str, Any], stop_at: float, record_from: float, out: dict[str, Any]
) -> None:
    import httpx

    rng = random.Random(index)
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + index % 250}")
    scenario = spec["scenario"]
    keys, tokens = spec["publishable_keys"], out["tokens_in"]
    n = 0
    # Connections spread over the nodes round-robin, as a load balancer would (one node here;
    # the scale bench passes several).
    url = spec["urls"][index % len(spec["urls"])]
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        while (now := time.perf_counter()) < stop_at:
            n += 1
            request = build_request(http, scenario, rng, keys, tokens, spec, index, n)
            if request is None:
                break  # a payment run used up its tokens
            started = time.perf_counter()
            response = await http.send(request)
            elapsed = time.perf_counter() - started
            ok = response.status_code == 200
            if ok and scenario == "tokenize":
                out["tokens_out"].append(response.json()["id"])
            if ok and scenario == "payment" and response.json().get("status") != "captured":
                ok = False
            if now >= record_from:
                out["latencies"].append(elapsed)
                out["errors"] += 0 if ok else 1
                out["statuses"][response.status_code] = (
                    out["statuses"].get(response.status_code, 0) + 1
                )


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latencies": [],
        "errors": 0,
        "statuses": {},
        "tokens_out": [],
        "tokens_in": list(spec.get("tokens", [])),
    }
    start = time.perf_counter()
    record_from = start + spec["warmup"]
    stop_at = record_from + spec["duration"]
    await asyncio.gather(
        *(_client(i, spec, stop_at, record_from, out) for i in range(spec["clients"]))
    )
    measured = min(time.perf_counter(), stop_at) - record_from
    lat = sorted(out["latencies"])

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    return {
        "requests": len(lat),
        "per_s": round(len(lat) / measured, 1) if measured > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": out["errors"],
        "statuses": out["statuses"],
        "tokens": out["tokens_out"],
        "ran_out_of_tokens": spec["scenario"] == "payment" and not out["tokens_in"],
    }


def build_request(
    http: Any,
    scenario: str,
    rng: random.Random,
    keys: list[str],
    tokens: list[str],
    spec: dict[str, Any],
    index: int,
    n: int,
) -> Any:
    """The next request of ``scenario`` (healthz, tokenize or payment) on client ``index``;
    None once a payment run has no token left. The scale bench sends the same requests."""
    if scenario == "healthz":
        return http.build_request("GET", "/healthz")
    if scenario == "tokenize":
        key = keys[(index * 7919 + n) % len(keys)]  # spread over keys: per-key rate limits
        return http.build_request(
            "POST",
            "/v1/tokens",
            json={"card": _card(rng)},
            headers={"Authorization": f"Bearer {key}"},
        )
    if not tokens:
        return None
    return http.build_request(
        "POST",
        "/v1/payments",
        json={"amount": 1000, "currency": "eur", "token": tokens.pop()},
        headers={
            "Authorization": f"Bearer {spec['secret_key']}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )


def loadgen_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = asyncio.run(_load(spec))
    Path(spec["out"]).write_text(json.dumps(result))


# -- the driver ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _postgres(admin_url: str) -> Iterator[str | None]:
    from sqlalchemy import create_engine, text

    from cardshield.storage.engine import normalize_url

    name = "cs_bench_" + secrets.token_hex(6)
    try:
        admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: say so and go on with SQLite only
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipping it")
        yield None
        return
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _provision(data_dir: Path, database_url: str, n_keys: int) -> dict[str, Any]:
    from cardshield.config import Settings
    from cardshield.crypto.kms import init_kms
    from cardshield.runtime import open_runtime
    from cardshield.security.apikeys import SCOPES, create_key
    from cardshield.storage import make_engine, upgrade

    settings = Settings(data_dir=data_dir, database_url=database_url)
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    runtime = open_runtime(settings)
    try:
        now = datetime.now(UTC)
        merchant = runtime.vault.create_merchant("bench", now=now)
        with runtime.engine.begin() as conn:
            sk = create_key(
                conn, now=now, merchant_id=merchant, kind="secret", scopes=sorted(SCOPES)
            )
            pks = [
                create_key(
                    conn,
                    now=now,
                    merchant_id=merchant,
                    kind="publishable",
                    scopes=["tokens:create"],
                    allowed_origins=["https://shop.example"],
                ).key.reveal()
                for _ in range(n_keys)
            ]
    finally:
        runtime.close()
    return {"secret_key": sk.key.reveal(), "publishable_keys": pks}


@contextmanager
def _serve(data_dir: Path, database_url: str) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env.update(CARDSHIELD_DATA_DIR=str(data_dir), CARDSHIELD_DATABASE_URL=database_url)
    script = Path(sys.executable).with_name("cardshield")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cardshield"]
    log = (data_dir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cardshield serve did not start; see {data_dir / 'serve.log'}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _run_loadgen(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    spec_path, out_path = (
        work / f"{spec['scenario']}.spec.json",
        work / f"{spec['scenario']}.out.json",
    )
    spec["out"] = str(out_path)
    spec_path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, __file__, "--loadgen", str(spec_path)], check=True)
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def bench_database(label: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"api-bench-{label}-") as tmp:
        data_dir = Path(tmp)
        keys = _provision(data_dir, database_url, args.keys)
        results: dict[str, dict[str, Any]] = {}
        with _serve(data_dir, database_url) as url:
            tokens: list[str] = []
            # The baseline runs before and after the others (its mean is the ratio's base),
            # so drift in the machine's load falls on both sides.
            for scenario in (*SCENARIOS, "healthz_after"):
                spec = {
                    **keys,
                    "urls": [url],
                    "scenario": scenario.removesuffix("_after"),
                    "clients": args.clients,
                    "duration": args.duration,
                    "warmup": args.warmup,
                    "tokens": tokens if scenario == "payment" else [],
                }
                result = _run_loadgen(spec, data_dir)
                if scenario == "tokenize":
                    tokens = result["tokens"]
                results[scenario] = result
    after = results.pop("healthz_after")
    base = (results["healthz"]["per_s"] + after["per_s"]) / 2 or 1.0
    figures: dict[str, Any] = {}
    for scenario, r in results.items():
        figures[f"{scenario}_per_s"] = r["per_s"]
        figures[f"{scenario}_p50_ms"] = r["p50_ms"]
        figures[f"{scenario}_p99_ms"] = r["p99_ms"]
        figures[f"{scenario}_errors"] = r["errors"]
    figures["healthz_per_s"] = round(base, 1)
    figures["healthz_runs_per_s"] = [results["healthz"]["per_s"], after["per_s"]]
    figures["tokenize_ratio"] = round(results["tokenize"]["per_s"] / base, 3)
    figures["payment_ratio"] = round(results["payment"]["per_s"] / base, 3)
    figures["payment_ran_out_of_tokens"] = results["payment"]["ran_out_of_tokens"]
    print(f"\n{label}: {args.clients} clients, {args.duration}s each after {args.warmup}s warm-up")
    print(
        f"{'scenario':<10} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for scenario, r in [*results.items(), ("healthz", after)]:
        print(
            f"{scenario:<10} {r['requests']:>9} {r['per_s']:>9.1f} {r['p50_ms']:>8.2f} "
            f"{r['p99_ms']:>8.2f} {r['errors']:>7}"
        )
        if r["errors"]:
            print(f"           statuses: {r['statuses']}")
    ratios = f"tokenize {figures['tokenize_ratio']}, payment {figures['payment_ratio']}"
    print(f"ratio to healthz: {ratios}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A short run (fewer clients).")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="Seconds per scenario.")
    parser.add_argument("--keys", type=int, default=100, help="Publishable keys to spread over.")
    parser.add_argument("--postgres", default=DEFAULT_PG_ADMIN, help="Admin URL ('' to skip).")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        loadgen_main(args.loadgen)
        return
    args.clients = args.clients or (8 if args.quick else 32)
    args.duration = args.duration or (1.5 if args.quick else 5.0)
    args.warmup = 0.3 if args.quick else 1.0
    report: dict[str, Any] = {"bench": "api", "clients": args.clients, "duration_s": args.duration}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = bench_database("sqlite", f"sqlite:///{Path(tmp) / 'vault.db'}", args)
    if args.postgres:
        with _postgres(args.postgres) as url:
            if url is not None:
                report["postgresql"] = bench_database("postgresql", url, args)
    top = report.get("postgresql") or report["sqlite"]
    for name in (
        "healthz_per_s",
        "tokenize_per_s",
        "payment_per_s",
        "tokenize_ratio",
        "payment_ratio",
    ):
        report[name] = top[name]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
