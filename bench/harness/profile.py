"""Sampling profiles of a server under load (py-spy), and what they add up to.

``record`` runs ``py-spy record`` on a process and its worker subprocesses for the length of
a run, writing collapsed stacks (``.txt``) and a flame graph (``.svg``). ``summary`` reads the
collapsed stacks back: the share of samples in which each function is on the stack
(inclusive) and at the top (self), which is what names the next cost to remove.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (make venv installs it from the lock)")
    return found


def record(pid: int, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """Start recording ``pid`` for ``seconds``; wait on the returned processes."""
    # --gil: only the thread holding the GIL is sampled, so the shares are of Python CPU time.
    common = [py_spy(), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil"]
    common += ["--duration", str(max(1, round(seconds))), "--rate", "250"]
    return [
        subprocess.Popen(
            [*common, "--format", fmt, "--output", str(out.with_suffix(suffix))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fmt, suffix in (("raw", ".txt"), ("flamegraph", ".svg"))
    ]


def _frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``: lines of one function add up;
    cardshield's own files keep their package path (``func (cardshield/vault/service.py)``)."""
    name, sep, where = frame.partition(" (")
    if not sep:
        return frame
    path = where.rstrip(")").rsplit(":", 1)[0]
    if path.startswith("cardshield/") or ("/cardshield/" in path and "-packages" not in path):
        return f"{name} (cardshield/{path.split('cardshield/', 1)[1]})"
    return f"{name} ({path.rsplit('/', 1)[-1]})"


def summary(collapsed: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(function, inclusive %, self %) for the ``top`` functions by inclusive share, over
    the samples of the main threads of the workers (threads idle in the loop excluded)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return []
    return [
        (name, round(100 * count / total, 1), round(100 * own[name] / total, 1))
        for name, count in inclusive.most_common(top)
    ]
