"""The hot path over HTTP: tokenize and pay, side by side with a bare FastAPI app.

One run of this script, on a throwaway PostgreSQL database (created, then dropped), with the
same uvicorn options for every server (``cardshield.commands.serve.UVICORN_OPTIONS``). The load
comes from ``wrk`` (compiled, its own process, ``--threads`` threads and ``--connections`` kept-
alive connections), with the Lua scripts in bench/harness/wrk:

* baseline: bench/harness/bare_app.py, a few lines of FastAPI answering ``POST /v1/tokens``
  (the same request generator as the tokenize run: a fresh body of the same size every time),
  run first and again last in each configuration; the ratios divide by the mean of the two;
* healthz: cardshield's ``GET /healthz``;
* tokenize: ``POST /v1/tokens`` with a publishable key (100 keys in turn), a fresh Luhn-valid
  card and CVC per request: key check, rate limiter counting, card probing check, envelope
  encryption, vault row + audit entry in one transaction, CVC into the volatile store;
* payment: ``POST /v1/payments`` with the secret key and a fresh ``Idempotency-Key``, each
  charging one token the tokenize run made (sandbox processor, automatic capture); the
  payments the database then holds as captured are counted too.

Configurations: the in-memory volatile store and rate limiter with 1 worker, then Redis for both
(the multi-node set-up) with 1 and with 2 workers (the baseline runs with as many). The
tokenize limits are raised through ``CARDSHIELD_RATE_LIMITS`` so the figures measure the path,
not the limit (every request is still counted); any 429 counts as an error. Each run is preceded
by a warm-up run of its own. Prints a table and, last, one JSON line with every figure and each
ratio to its baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import profile as profiling
from harness.service import (
    DEFAULT_PG_ADMIN,
    cardshield_command,
    cardshield_env,
    postgres,
    provision,
    serving,
)

HERE = Path(__file__).resolve().parent
LUA = HERE / "harness" / "wrk"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
# The goals for the in-memory, one-worker configuration (and the same with Redis).
GOALS = {"healthz_ratio": 0.7, "tokenize_ratio": 0.25, "payment_ratio": 0.08}
TOKENIZE_P99_MS = 50.0
RAISED_LIMITS = json.dumps(dict.fromkeys(("tokenize_key_ip", "tokenize_key"), "10000000/minute"))
TICKS = os.sysconf("SC_CLK_TCK")


# -- CPU accounting (/proc): who used the cores during a run ---------------------------------


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _processes() -> dict[int, tuple[str, int]]:
    """pid -> (name, parent pid) for every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, rest = (entry / "stat").read_text().rsplit(")", 1)
            except OSError:
                continue
            found[int(entry.name)] = (head.split("(", 1)[1], int(rest.split()[1]))
    return found


def _groups(server_pid: int) -> dict[str, list[int]]:
    procs = _processes()
    tree, frontier = {server_pid}, [server_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (_, ppid) in procs.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return {
        "server": sorted(tree),
        "postgres": [p for p, (name, _) in procs.items() if name.startswith("postgres")],
        "redis": [p for p, (name, _) in procs.items() if name.startswith("redis-server")],
    }


def _cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(_cpu_of(p) for p in pids) for name, pids in groups.items()}


# -- one wrk run ------------------------------------------------------------------------------


def _wrk(
    url: str, script: str, seconds: float, args: argparse.Namespace, work: Path, **env: str
) -> dict[str, Any]:
    out = work / "wrk-out.json"
    out.unlink(missing_ok=True)
    environ = {
        **os.environ,
        "WRK_OUT": str(out),
        "WRK_LUA_DIR": str(LUA),
        "WRK_THREADS": str(args.threads),
        **env,
    }
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / script),
        url,
    ]
    proc = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # read its CPU before it is reaped
    wrk_cpu = _cpu_of(proc.pid)
    if proc.wait() != 0 or not out.exists():
        raise SystemExit(f"wrk failed on {url} ({script})")
    result: dict[str, Any] = json.loads(out.read_text())
    result["wrk_cpu_s"] = wrk_cpu
    return result


def _measure(
    name: str,
    url: str,
    script: str,
    args: argparse.Namespace,
    work: Path,
    server_pid: int,
    *,
    warm_env: dict[str, str] | None = None,
    between: Callable[[], None] | None = None,
    profile: Path | None = None,
    **env: str,
) -> dict[str, Any]:
    _wrk(url, script, args.warmup, args, work, **(warm_env or env))
    if between is not None:
        between()
    groups = _groups(server_pid)
    recorders = [] if profile is None else profiling.record(server_pid, args.duration, profile)
    before = _cpu(groups)
    r = _wrk(url, script, args.duration, args, work, **env)
    after = _cpu(groups)
    for recorder in recorders:
        recorder.wait()
    wall = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    figures = {
        "scenario": name,
        "requests": r["requests"],
        "per_s": round(r["requests"] / wall, 1),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "max_ms": round(r["max_us"] / 1000, 2),
        "errors": errors,
        "non_2xx": r["status"],
        # Percent of one core each used during the measured run.
        "cpu_pct": {
            **{g: round(100 * (after[g] - before[g]) / wall, 1) for g in groups},
            "wrk": round(100 * r["wrk_cpu_s"] / wall, 1),
        },
    }
    return figures


# -- the configurations -----------------------------------------------------------------------


def _lua_data(path: Path, **values: Any) -> Path:
    def lua(value: Any) -> str:
        if isinstance(value, list):
            return "{" + ",".join(lua(v) for v in value) + "}"
        return json.dumps(value)  # strings and numbers read the same in Lua

    body = ",\n".join(f"{k} = {lua(v)}" for k, v in values.items())
    path.write_text("return {\n" + body + "\n}\n")
    return path


def _unused_tokens(database_url: str) -> list[str]:
    from sqlalchemy import create_engine, text

    from cardshield.storage.engine import normalize_url

    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT token FROM cards WHERE single_use AND used_at IS NULL ORDER BY token")
        ).all()
    engine.dispose()
    return [r.token for r in rows]


def _payment_counts(database_url: str) -> dict[str, int]:
    """Payments by status once the server has finished what wrk left in flight (wrk stops
    without waiting for its last answers): read until two reads half a second apart agree."""
    from sqlalchemy import create_engine, text

    from cardshield.storage.engine import normalize_url

    engine = create_engine(normalize_url(database_url))
    previous: dict[str, int] | None = None
    try:
        for _ in range(40):
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT status, count(*) AS n FROM payments GROUP BY 1"))
                counts = {r.status: int(r.n) for r in rows}
            if counts == previous:
                return counts
            previous = counts
            time.sleep(0.5)
        return counts
    finally:
        engine.dispose()


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def run_config(
    label: str,
    *,
    workers: int,
    redis_url: str | None,
    database_url: str,
    keys: dict[str, Any],
    data_dir: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    work = data_dir / label
    work.mkdir()

    def profile(name: str) -> Path | None:
        return None if args.profile is None else args.profile / f"{label}-{name}.txt"

    if redis_url:
        _flush_redis(redis_url)
    settings = {"rate_limits": RAISED_LIMITS}
    if redis_url:
        settings["redis_url"] = redis_url
    env = cardshield_env(data_dir, database_url, **settings)
    bare_env = {**os.environ, "PYTHONPATH": str(HERE / "harness")}
    bare = [sys.executable, str(HERE / "harness" / "run_bare.py"), "--workers", str(workers)]
    cardshield = [*cardshield_command(), "serve", "--workers", str(workers)]
    keys_file = _lua_data(work / "keys.lua", publishable_keys=keys["publishable_keys"])
    runs: dict[str, dict[str, Any]] = {}
    with (
        serving(bare, bare_env, work / "bare.log", "/healthz") as (bare_url, bare_proc),
        serving(cardshield, env, work / "serve.log", "/readyz") as (url, proc),
    ):
        tokenize_env = {"WRK_DATA": str(keys_file)}
        runs["baseline"] = _measure(
            "baseline", bare_url, "tokenize.lua", args, work, bare_proc.pid, **tokenize_env
        )
        runs["healthz"] = _measure(
            "healthz",
            url,
            "get.lua",
            args,
            work,
            proc.pid,
            profile=profile("healthz"),
            WRK_PATH="/healthz",
        )
        runs["tokenize"] = _measure(
            "tokenize",
            url,
            "tokenize.lua",
            args,
            work,
            proc.pid,
            profile=profile("tokenize"),
            **tokenize_env,
        )
        tokens = _unused_tokens(database_url)
        split = int(len(tokens) * args.warmup / (args.warmup + args.duration))
        warm = _lua_data(work / "warm.lua", secret_key=keys["secret_key"], tokens=tokens[:split])
        measured = _lua_data(work / "pay.lua", secret_key=keys["secret_key"], tokens=tokens[split:])
        counted: dict[str, int] = {}
        runs["payment"] = _measure(
            "payment",
            url,
            "payment.lua",
            args,
            work,
            proc.pid,
            warm_env={"WRK_DATA": str(warm)},
            between=lambda: counted.update(_payment_counts(database_url)),
            profile=profile("payment"),
            WRK_DATA=str(measured),
        )
        after = _payment_counts(database_url)
        runs["payment"]["captured_in_db"] = after.get("captured", 0) - counted.get("captured", 0)
        runs["payment"]["tokens_available"] = len(tokens) - split
        runs["baseline_after"] = _measure(
            "baseline", bare_url, "tokenize.lua", args, work, bare_proc.pid, **tokenize_env
        )
    if redis_url:
        _flush_redis(redis_url)
    base = (runs["baseline"]["per_s"] + runs["baseline_after"]["per_s"]) / 2 or 1.0
    for name in ("healthz", "tokenize", "payment"):
        runs[name]["ratio"] = round(runs[name]["per_s"] / base, 3)
    return {
        "label": label,
        "workers": workers,
        "volatile_store": "redis" if redis_url else "memory",
        "baseline_per_s": round(base, 1),
        "runs": runs,
    }


def _print(config: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n{config['label']}: {config['workers']} worker(s), {config['volatile_store']} "
        f"volatile store and rate limiter; wrk -t{args.threads} -c{args.connections}, "
        f"{args.duration:g} s each after {args.warmup:g} s warm-up"
    )
    print(
        f"{'scenario':<15}{'req/s':>9}{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"   CPU % of a core (server / postgres / redis / wrk)"
    )
    for key, r in config["runs"].items():
        ratio = f"{r['ratio']:.3f}" if "ratio" in r else "-"
        cpu = r["cpu_pct"]
        print(
            f"{key:<15}{r['per_s']:>9.1f}{ratio:>7}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['errors']:>8}   {cpu['server']:.0f} / {cpu['postgres']:.0f} / "
            f"{cpu['redis']:.0f} / {cpu['wrk']:.0f}"
        )
    pay = config["runs"]["payment"]
    print(
        f"payments: {pay['captured_in_db']} captured in the database for "
        f"{pay['requests'] - pay['non_2xx']} answered 2xx ({pay['tokens_available']} tokens given)"
    )


def _print_profiles(folder: Path, label: str) -> None:
    for name in ("healthz", "tokenize", "payment"):
        collapsed = folder / f"{label}-{name}.txt"
        if not collapsed.exists():
            continue
        rows = profiling.summary(collapsed, top=2000)
        print(f"\nprofile {label} {name} ({collapsed.with_suffix('.svg')}), % of samples:")
        print("  by self time:")
        for function, incl, own in sorted(rows, key=lambda r: -r[2])[:20]:
            print(f"    self {own:5.1f}  incl {incl:5.1f}  {function}")
        print("  cardshield's own functions, by inclusive time:")
        ours = [r for r in rows if "(cardshield/" in r[0] and "cardshield/cli.py" not in r[0]]
        for function, incl, own in ours[:20]:
            print(f"    incl {incl:5.1f}  self {own:5.1f}  {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Short runs.")
    parser.add_argument("--duration", type=float, default=None, help="Seconds per run.")
    parser.add_argument("--warmup", type=float, default=None, help="Seconds of warm-up per run.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keys", type=int, default=100, help="Publishable keys to rotate.")
    parser.add_argument("--postgres", default=DEFAULT_PG_ADMIN, help="Admin URL.")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis URL ('' to skip).")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="Folder for py-spy profiles of each cardshield run (collapsed stacks and SVG).",
    )
    parser.add_argument(
        "--only", choices=("memory-1", "redis-1", "redis-2"), action="append", help="Configs."
    )
    args = parser.parse_args()
    if args.profile is not None:
        profiling.py_spy()  # fail now, not after the first configuration
        args.profile.mkdir(parents=True, exist_ok=True)
    args.duration = args.duration or (4.0 if args.quick else 10.0)
    args.warmup = args.warmup or (1.0 if args.quick else 2.0)
    configs = [("memory-1", 1, None), ("redis-1", 1, args.redis), ("redis-2", 2, args.redis)]
    configs = [c for c in configs if args.only is None or c[0] in args.only]
    if not args.redis:
        configs = [c for c in configs if c[2] is None]
    report: dict[str, Any] = {
        "bench": "hotpath",
        "connections": args.connections,
        "threads": args.threads,
        "duration_s": args.duration,
        "cores": os.cpu_count(),
    }
    with postgres(args.postgres) as database_url:
        if database_url is None:
            raise SystemExit("this bench needs PostgreSQL (--postgres)")
        with tempfile.TemporaryDirectory(prefix="hotpath-bench-") as tmp:
            data_dir = Path(tmp)
            keys = provision(data_dir, database_url, args.keys)
            report["configs"] = {}
            for label, workers, redis_url in configs:
                config = run_config(
                    label,
                    workers=workers,
                    redis_url=redis_url,
                    database_url=database_url,
                    keys=keys,
                    data_dir=data_dir,
                    args=args,
                )
                _print(config, args)
                if args.profile is not None:
                    _print_profiles(args.profile, label)
                report["configs"][label] = config
    for label, config in report["configs"].items():
        runs = config["runs"]
        prefix = label.replace("-", "_w")
        report[f"{prefix}_baseline_per_s"] = config["baseline_per_s"]
        for name in ("healthz", "tokenize", "payment"):
            report[f"{prefix}_{name}_per_s"] = runs[name]["per_s"]
            report[f"{prefix}_{name}_ratio"] = runs[name]["ratio"]
        report[f"{prefix}_tokenize_p99_ms"] = runs["tokenize"]["p99_ms"]
        goals = {
            f"{name} >= {goal}": runs[name.removesuffix("_ratio")]["ratio"] >= goal
            for name, goal in GOALS.items()
        }
        goals[f"tokenize p99 <= {TOKENIZE_P99_MS:g} ms"] = (
            runs["tokenize"]["p99_ms"] <= TOKENIZE_P99_MS
        )
        config["goals"] = goals
        met = sum(goals.values())
        print(
            f"{label}: {met} of {len(goals)} goals met: "
            + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in goals.items())
        )
    if {"redis-1", "redis-2"} <= report["configs"].keys():
        one, two = report["configs"]["redis-1"]["runs"], report["configs"]["redis-2"]["runs"]
        report["workers_2_vs_1"] = {
            name: round(two[name]["per_s"] / (one[name]["per_s"] or 1.0), 2)
            for name in ("baseline", "healthz", "tokenize", "payment")
        }
        print(
            "2 workers / 1 worker (Redis): "
            + ", ".join(f"{k} {v}x" for k, v in report["workers_2_vs_1"].items())
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
