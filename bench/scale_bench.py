"""Scale-out throughput: tokenize and create-payment with 1, 2 and 3 `cardshield serve` nodes.

All nodes share one throwaway PostgreSQL database (created, then dropped) and one Redis
database (the CVV store and the rate limiter's counters). Each node is one `cardshield
serve` process (one worker) on its own loopback port. A load generator in its own process
(asyncio + httpx, ``--clients`` kept-alive connections) spreads its connections over the
nodes round-robin, as a load balancer would, and runs for ``--duration`` seconds after a
short warm-up:

* tokenize: ``POST /v1/tokens`` with a publishable key, a generated Luhn-valid card and a
  CVC (key check, shared rate limiter in Redis, envelope encryption, insert, audit entry,
  CVC into Redis);
* payment: ``POST /v1/payments`` with an ``Idempotency-Key`` charging a token of the
  tokenize run (idempotency claim, CVC taken from Redis, sandbox authorization + capture).

While each run goes, the CPU time of every node, the PostgreSQL and Redis server processes
and the load generator is read from /proc, and the machine's busy share from /proc/stat;
the note at the end names the bottleneck from those figures. The baseline is the 1-node
run of the same invocation; the ratios divide by it. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from harness.pyload import loadgen_main
from harness.service import cardshield_command, cardshield_env, serving
from harness.service import postgres as _postgres
from harness.service import provision as _provision

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
TICKS = os.sysconf("SC_CLK_TCK")

# The load generator (its own process, bench/harness/pyload.py) gets every node's URL.


# -- CPU accounting from /proc --------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class CpuWatch:
    """CPU seconds per group of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, nodes: list[int]) -> None:
        self.groups: dict[str, list[int]] = {"nodes": nodes}

    def _read(self) -> dict[str, dict[int, float]]:
        groups = {
            **self.groups,
            "postgres": _pids_named("postgres"),
            "redis": _pids_named("redis-server"),
        }
        return {g: {p: _cpu_s(p) for p in pids} for g, pids in groups.items()}

    def start(self) -> None:
        self._t0, self._c0, self._m0 = time.perf_counter(), self._read(), _machine_busy()

    def stop(self, loadgen_cpu_s: float) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        c1, m1 = self._read(), _machine_busy()
        share: dict[str, float] = {}
        for group, now in c1.items():
            before = self._c0.get(group, {})
            # A process that started during the run counts whole; one that ended is missed
            # (short-lived PostgreSQL backends), so the figures are lower bounds.
            spent = sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())
            share[group] = round(100 * spent / wall, 1)
        share["loadgen"] = round(100 * loadgen_cpu_s / wall, 1)
        busy, total = m1[0] - self._m0[0], m1[1] - self._m0[1]
        cores = os.cpu_count() or 1
        share["machine_busy_pct"] = round(100 * busy / total, 1) if total else 0.0
        # What the rest of the machine used meanwhile (other workloads share these cores).
        ours = sum(share.values()) - share["machine_busy_pct"]
        share["other"] = round(max(0.0, share["machine_busy_pct"] * cores - ours), 1)
        return share  # percent of one core, except machine_busy_pct (of all cores)


# -- the driver ----------------------------------------------------------------------------


@contextmanager
def _nodes(data_dir: Path, database_url: str, redis_url: str, n: int) -> Iterator[list[Any]]:
    """``n`` nodes, each one ``cardshield serve`` started and waited for; (process, URL)."""
    env = cardshield_env(data_dir, database_url, redis_url=redis_url)
    log = data_dir / f"serve-{n}.log"
    with ExitStack() as stack:
        nodes = [
            stack.enter_context(serving([*cardshield_command(), "serve"], env, log, "/readyz"))
            for _ in range(n)
        ]
        yield [(proc, url) for url, proc in nodes]


def _reset_limits(redis_url: str) -> None:
    """Forget the rate limiter's counters, so each run starts with a fresh allowance."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("LIMITS*"):
        client.delete(key)
    client.close()


def _run_loadgen(spec: dict[str, Any], work: Path) -> tuple[dict[str, Any], float]:
    spec_path, out_path = work / "spec.json", work / "out.json"
    spec["out"] = str(out_path)
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.Popen([sys.executable, __file__, "--loadgen", str(spec_path)])
    # Read the generator's CPU time just before it is reaped (a zombie keeps its /proc entry).
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    cpu = _cpu_s(proc.pid)
    if proc.wait() != 0:
        raise SystemExit("the load generator failed")
    return json.loads(out_path.read_text()), cpu


def bench(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        data_dir = Path(tmp)
        keys = _provision(data_dir, database_url, args.keys)
        for n in args.node_counts:
            with _nodes(data_dir, database_url, args.redis, n) as procs:
                watch = CpuWatch([p.pid for p, _ in procs])
                tokens: list[str] = []
                per: dict[str, Any] = {}
                for scenario in ("tokenize", "payment"):
                    _reset_limits(args.redis)
                    spec = {
                        **keys,
                        "urls": [url for _, url in procs],
                        "scenario": scenario,
                        "clients": args.clients,
                        "duration": args.duration,
                        "warmup": args.warmup,
                        "tokens": tokens,
                    }
                    watch.start()
                    result, loadgen_cpu = _run_loadgen(spec, data_dir)
                    result["cpu"] = watch.stop(loadgen_cpu)
                    tokens = result.pop("tokens")
                    per[scenario] = result
                results[n] = per
    return results


def _bottleneck(cpu: dict[str, float], nodes: int) -> str:
    busy = cpu["machine_busy_pct"]
    cores = os.cpu_count() or 1
    ours = {k: cpu[k] for k in ("nodes", "postgres", "redis", "loadgen")}
    parts = (
        f"cardshield nodes {ours['nodes']}% over {nodes} process(es), PostgreSQL "
        f"{ours['postgres']}%, Redis {ours['redis']}%, load generator {ours['loadgen']}%, "
        f"other processes {cpu['other']}% (of {cores * 100}%)"
    )
    if busy < 85:
        return f"not CPU-bound ({busy}% busy): waiting on the database or locks; {parts}"
    if cpu["other"] > sum(ours.values()):
        return (
            f"CPU-bound on a shared machine ({busy}% busy, most of it other work): more "
            f"nodes only split the same cores; {parts}"
        )
    top = max(ours, key=lambda k: ours[k])
    return f"CPU-bound ({busy}% busy), mostly {top}: more nodes split the same cores; {parts}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A short run (fewer clients).")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="Seconds per scenario.")
    parser.add_argument("--keys", type=int, default=100, help="Publishable keys to spread over.")
    parser.add_argument("--nodes", default="1,2,3", help="Node counts to run, comma-separated.")
    parser.add_argument("--postgres", default=DEFAULT_PG_ADMIN, help="Admin URL.")
    parser.add_argument("--redis", default=DEFAULT_REDIS, help="Redis database (flushed).")
    parser.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        loadgen_main(args.loadgen)
        return
    args.clients = args.clients or (12 if args.quick else 48)
    args.duration = args.duration or (2.0 if args.quick else 6.0)
    args.warmup = 0.5 if args.quick else 1.0
    args.node_counts = [int(n) for n in args.nodes.split(",")]
    with _postgres(args.postgres) as database_url:
        if database_url is None:
            raise SystemExit("scale_bench needs PostgreSQL (several nodes share one database)")
        results = bench(args, database_url)
    cores = os.cpu_count()
    print(
        f"\n{args.clients} clients over the nodes, {args.duration}s per run after "
        f"{args.warmup}s warm-up; {cores} CPU cores; CPU in % of one core"
    )
    print(
        f"{'nodes':>5} {'scenario':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'nodes%':>7} {'pg%':>6} {'redis%':>6} {'loadgen%':>8} {'other%':>7} {'busy%':>6}"
    )
    for n, per in results.items():
        for scenario, r in per.items():
            c = r["cpu"]
            print(
                f"{n:>5} {scenario:<9} {r['per_s']:>8.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                f"{r['errors']:>6} {c['nodes']:>7.1f} {c['postgres']:>6.1f} {c['redis']:>6.1f} "
                f"{c['loadgen']:>8.1f} {c['other']:>7.1f} {c['machine_busy_pct']:>6.1f}"
            )
    base = args.node_counts[0]
    figures: dict[str, Any] = {"clients": args.clients, "cpu_cores": cores, "baseline_nodes": base}
    notes = []
    for scenario in ("tokenize", "payment"):
        previous = None
        for n, per in results.items():
            r = per[scenario]
            figures[f"{scenario}_{n}n_per_s"] = r["per_s"]
            figures[f"{scenario}_{n}n_p50_ms"] = r["p50_ms"]
            figures[f"{scenario}_{n}n_p99_ms"] = r["p99_ms"]
            figures[f"{scenario}_{n}n_errors"] = r["errors"]
            figures[f"{scenario}_{n}n_cpu"] = r["cpu"]
            if n != base:
                baseline = results[base][scenario]["per_s"] or 1.0
                figures[f"{scenario}_{n}n_vs_{base}n"] = round(r["per_s"] / baseline, 3)
            if previous is not None:
                gain = round(r["per_s"] / (results[previous][scenario]["per_s"] or 1.0), 3)
                figures[f"{scenario}_added_node_{previous}to{n}"] = gain
            previous = n
        last = max(results)
        note = _bottleneck(results[last][scenario]["cpu"], last)
        notes.append(f"{scenario} at {last} node(s): {note}")
    figures["payment_ran_out_of_tokens"] = any(
        per["payment"]["ran_out_of_tokens"] for per in results.values()
    )
    print("\nscaling (req/s ratio per added node):")
    for key, value in figures.items():
        if "_added_node_" in key:
            print(f"  {key}: {value}")
    print("bottleneck:")
    for note in notes:
        print(f"  {note}")
    figures["bottleneck"] = notes
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
