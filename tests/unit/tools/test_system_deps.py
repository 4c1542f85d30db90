"""`make system-deps` without root: one line naming what is missing, and a failing exit."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _system_deps(packages: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "system-deps",
            "AS_UID=1000",
            f"DEBIAN_PACKAGES={packages}",
        ],
        cwd=ROOT,
        # Run as from a shell, not as a sub-make of `make test` (which passes its flags on).
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_missing_package_is_named_in_one_line_without_root() -> None:
    done = _system_deps("ripgrep cardshield-no-such-package")
    assert done.returncode != 0
    ours = [line for line in done.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)]
    assert ours == [
        "missing Debian packages: cardshield-no-such-package (run 'sudo make system-deps')"
    ]


def test_installed_packages_pass_without_root() -> None:
    done = _system_deps("ripgrep sox")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_the_package_list_carries_a_verified_version_for_each_name() -> None:
    rows = [
        line.split()
        for line in (ROOT / "debian-packages.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert {"softhsm2", "chromium", "multimon-ng", "espeak-ng"} <= {r[0] for r in rows}
    assert all(len(r) == 2 for r in rows), rows
