"""PAN discovery benchmark: cardshield against ripgrep and panhunt on the same corpus.

Generates, in a temporary directory, realistic logs (access logs, JSON application logs,
syslog, Java logs) with sparse planted card numbers in many written forms and many
look-alikes that are not cards (millisecond timestamps, UUIDs, decimals, hex hashes,
IMEIs, Luhn-invalid numbers, masked numbers), plus a mix of documents and archives (docx,
xlsx, PDF, zip, tar.gz, e-mail, SQLite). Then measures, on the same files:

* cardshield (``python -m cardshield.discovery``, ``--jobs`` = cores): throughput on the
  plain logs, and recall/precision over the whole corpus;
* ripgrep with an equivalent brand-aware PAN regex (prefixes, lengths, groupings,
  separators; no Luhn): the I/O and regex floor, on all cores;
* panhunt from PyPI, installed into a throwaway virtual environment.

A finding counts as (top-level file, length, first two and last four digits); planted
numbers are distinct on that key within a file. Last line: one JSON object with the
figures and the ratios. Run: ``.venv/bin/python bench/scan_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scan_corpus import Key, Truth, write_documents, write_logs

# --------------------------------------------------------------------------- tools

SEP = r"(?:[ .-]|%2[0DdEe])"
S = SEP + "?"
RG_REGEX = (
    r"(?:^|[^0-9A-Za-z])("
    rf"4[0-9]{{3}}(?:{S}[0-9]{{4}}){{3}}(?:{S}[0-9]{{3}})?|4[0-9]{{12}}"
    rf"|(?:5[1-5][0-9]{{2}}|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{{2}}|27[01][0-9]|2720)(?:{S}[0-9]{{4}}){{3}}"
    rf"|3[47][0-9]{{2}}{S}[0-9]{{6}}{S}[0-9]{{5}}"
    rf"|(?:6011|64[4-9][0-9]|65[0-9]{{2}}|62[0-9]{{2}}|35(?:2[89]|[3-8][0-9]))(?:{S}[0-9]{{4}}){{3}}[0-9]{{0,3}}"
    rf"|3(?:0[0-5][0-9]|095|[689][0-9]{{2}}){S}[0-9]{{6}}{S}[0-9]{{4}}"
    r"|(?:50|5[6-9]|6[0-9])[0-9]{10,17}"
    r")(?:$|[^0-9A-Za-z])"
)


def key_from(top: str, masked_or_digits: str) -> Key:
    return (top, len(masked_or_digits), masked_or_digits[:2], masked_or_digits[-4:])


def run_cardshield(target: Path, root: Path, jobs: int, out: Path) -> tuple[float, set[Key]]:
    cmd = [sys.executable, "-m", "cardshield.discovery", str(target), "--format", "json",
           "--jobs", str(jobs), "--no-progress", "-o", str(out)]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"cardshield failed: {proc.stderr.decode()[-500:]}")
    keys = set()
    for f in json.loads(out.read_text())["findings"]:
        top = os.path.relpath(f["path"].split("!", 1)[0], root)
        keys.add(key_from(top, f["masked"]))
    return elapsed, keys


def run_ripgrep(target: Path, root: Path, jobs: int) -> tuple[float, set[Key]]:
    cmd = ["rg", "--no-heading", "-H", "-o", "-z", "-j", str(jobs), "-e", RG_REGEX, str(target)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ripgrep failed: {proc.stderr.decode()[-500:]}")
    keys = set()
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        path, _, match = line.partition(":")
        digits = re.sub(r"[^0-9]", "", re.sub(r"%2[0DdEe]", "", match))
        keys.add(key_from(os.path.relpath(path, root), digits))
    return elapsed, keys


def install_panhunt(workdir: Path) -> Path | None:
    venv = workdir / "panhunt-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "panhunt"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"panhunt could not be installed: {exc}", file=sys.stderr)
        return None
    return venv / "bin" / "panhunt"


def run_panhunt(exe: Path, target: Path, root: Path, jobs: int, workdir: Path,
                tops: list[str]) -> tuple[float, set[Key]]:  # fmt: skip
    out = workdir / f"panhunt-{time.monotonic_ns()}"
    out.mkdir()
    cmd = [str(exe), str(target), "-j", str(out), "-o", str(out), "-q", "-w", str(jobs)]
    started = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False, cwd=out, timeout=3600)
    elapsed = time.perf_counter() - started
    reports = sorted(out.glob("*.json"))
    if not reports:
        raise RuntimeError("panhunt wrote no JSON report")
    keys = set()
    by_length = sorted(tops, key=len, reverse=True)
    for path, entries in json.loads(reports[-1].read_text())["pans_found_results"].items():
        rel = os.path.relpath(path, root)
        top = next((t for t in by_length if rel == t or rel.startswith(t + "/")), rel)
        for entry in entries:
            keys.add(key_from(top, entry.split(":", 1)[-1]))
    return elapsed, keys


def score(found: set[Key], truth: set[Key]) -> tuple[float, float]:
    tp = len(found & truth)
    recall = tp / len(truth) if truth else 0.0
    precision = tp / len(found) if found else 0.0
    return round(recall, 4), round(precision, 4)


def best_of_interleaved(
    runs: int, *tools: Callable[[], tuple[float, set[Key]]]
) -> list[tuple[float, set[Key]]]:
    """Run the tools in turn, ``runs`` rounds, and keep each one's best time: on a shared
    machine a burst of load then hits both tools, not just the one that ran during it."""
    times: list[list[float]] = [[] for _ in tools]
    keys: list[set[Key]] = [set() for _ in tools]
    for _ in range(runs):
        for i, tool in enumerate(tools):
            elapsed, found = tool()
            times[i].append(elapsed)
            keys[i] = found
    return [(min(t), k) for t, k in zip(times, keys, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus (about 40 MB)")
    parser.add_argument("--log-mb", type=int, default=None, help="MB of logs (default 512)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--no-panhunt", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the corpus directory")
    args = parser.parse_args()
    log_mb = args.log_mb or (40 if args.quick else 512)
    docs = 70 if args.quick else 350
    if shutil.which("rg") is None:
        sys.exit("ripgrep (rg) is required: apt-get install ripgrep")

    workdir = Path(tempfile.mkdtemp(prefix="cardshield-scan-bench-"))
    root = workdir / "corpus"
    root.mkdir()
    try:
        rng = random.Random(20240501)
        truth = Truth()
        t0 = time.perf_counter()
        log_bytes = write_logs(root, log_mb << 20, rng, truth)
        doc_bytes = write_documents(root, docs, rng, truth)
        gen_s = time.perf_counter() - t0
        tops = sorted(
            {k[0] for k in truth.keys}
            | {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        )
        log_truth = {k for k in truth.keys if k[0].startswith("logs/")}
        print(f"corpus: {log_bytes / 1e6:.0f} MB of logs, {docs} documents "
              f"({doc_bytes / 1e6:.1f} MB), {len(truth.keys)} planted cards, "
              f"generated in {gen_s:.0f} s, {args.jobs} cores")  # fmt: skip

        logs = root / "logs"
        # Warm the page cache so that every tool reads from memory.
        for p in logs.iterdir():
            p.read_bytes()
        out = workdir / "cardshield.json"
        (cs_logs_s, cs_log_keys), (rg_logs_s, rg_log_keys) = best_of_interleaved(
            5,
            lambda: run_cardshield(logs, root, args.jobs, out),
            lambda: run_ripgrep(logs, root, args.jobs),
        )
        _, cs_keys = run_cardshield(root, root, args.jobs, out)
        _, rg_keys = run_ripgrep(root, root, args.jobs)

        ph_logs_s: float | None = None
        ph_keys: set[Key] | None = None
        ph_log_keys: set[Key] | None = None
        if not args.no_panhunt:
            exe = install_panhunt(workdir)
            if exe is not None:
                ph_logs_s, ph_log_keys = run_panhunt(exe, logs, root, args.jobs, workdir, tops)
                _, ph_keys = run_panhunt(exe, root, root, args.jobs, workdir, tops)

        mb = log_bytes / 1e6
        cs_mbs = round(mb / cs_logs_s, 1)
        rg_mbs = round(mb / rg_logs_s, 1)
        ph_mbs = round(mb / ph_logs_s, 1) if ph_logs_s else None
        cs_r, cs_p = score(cs_keys, truth.keys)
        rg_r, rg_p = score(rg_keys, truth.keys)
        cs_lr, cs_lp = score(cs_log_keys, log_truth)
        rg_lr, rg_lp = score(rg_log_keys, log_truth)
        ph_r = ph_p = ph_lr = ph_lp = None
        if ph_keys is not None and ph_log_keys is not None:
            ph_r, ph_p = score(ph_keys, truth.keys)
            ph_lr, ph_lp = score(ph_log_keys, log_truth)

        rows = [
            ("cardshield", cs_mbs, cs_lr, cs_lp, cs_r, cs_p),
            ("ripgrep (regex, no Luhn)", rg_mbs, rg_lr, rg_lp, rg_r, rg_p),
            ("panhunt", ph_mbs, ph_lr, ph_lp, ph_r, ph_p),
        ]
        print(f"\n{'tool':<26}{'logs MB/s':>10}{'log recall':>12}{'log prec.':>11}"
              f"{'all recall':>12}{'all prec.':>11}")  # fmt: skip
        for name, *vals in rows:
            cells = "".join(
                f"{('-' if v is None else v):>{w}}"
                for v, w in zip(vals, (10, 12, 11, 12, 11), strict=True)
            )
            print(f"{name:<26}{cells}")
        result = {
            "bench": "scan",
            "log_mb": round(mb, 1),
            "documents": docs,
            "planted": len(truth.keys),
            "jobs": args.jobs,
            "cardshield_mb_s": cs_mbs,
            "ripgrep_mb_s": rg_mbs,
            "panhunt_mb_s": ph_mbs,
            "ratio_vs_ripgrep": round(cs_mbs / rg_mbs, 3),
            "cardshield_recall": cs_r,
            "cardshield_precision": cs_p,
            "ripgrep_recall": rg_r,
            "ripgrep_precision": rg_p,
            "panhunt_recall": ph_r,
            "panhunt_precision": ph_p,
            "cardshield_log_recall": cs_lr,
            "cardshield_log_precision": cs_lp,
            "panhunt_log_recall": ph_lr,
            "panhunt_log_precision": ph_lp,
        }
        print(json.dumps(result))
    finally:
        if args.keep:
            print(f"corpus kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
