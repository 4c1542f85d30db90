"""Audit the locked dependency set for known vulnerabilities (pip-audit, PyPI's advisory data).

    python tools/dep_audit.py requirements.lock

Prints one row per advisory: package, locked version, advisory id, fixed versions. Exit status:
0 when no advisory has a fixed release, 1 when at least one does (upgrade it: `make upgrade`, or
`pip-compile -P NAME==FIXED`), 2 when the audit itself could not run (no route to the advisory
data, a broken lock): never a pass that did not look. An advisory with no fixed release yet is
printed as a warning and does not fail the run; it needs a decision, not an upgrade.

pip-audit asks PyPI for each release (`/pypi/NAME/VERSION/json`). A registry mirror that
serves only the project documents (`/pypi/NAME/json`) answers 404 there, and pip-audit then
reports the package as not found. For those, this script reads the project document: its
`vulnerabilities` list is PyPI's advisory data for the newest release, so it audits a pin that
is the newest release; a pin behind it stays "not audited" and is named, never counted as
clean. Exit 3 when every audited package is clean but some could not be audited, unless
`--partial-ok` is given (CI here, where the mirror covers only newest releases): then the
unaudited packages are still named, and the exit is 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from lockcheck import read_lock  # this folder: the script's own directory is on sys.path

PYPI = "https://pypi.org/pypi/{name}/json"
NOT_FOUND = "Dependency not found on PyPI"


def run_audit(lock: Path) -> dict[str, object]:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    cmd = [
        str(pip_audit),
        "--requirement",
        str(lock),
        "--require-hashes",
        "--disable-pip",  # audit the pins as written: nothing is resolved or installed
        "--vulnerability-service",
        "pypi",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    # pip-audit exits 1 when it found advisories and still prints its JSON; anything else
    # without JSON on stdout means it did not get to look.
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit could not run ({tail})", file=sys.stderr)
        sys.exit(2)
    assert isinstance(report, dict)
    return report


def _project_document(name: str) -> dict[str, object] | None:
    verify: str | bool = os.environ.get("PIP_CERT") or True
    try:
        answer = requests.get(PYPI.format(name=name), timeout=30, verify=verify)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    doc = answer.json()
    return doc if isinstance(doc, dict) else None


def fill_from_project_documents(deps: list[dict[str, object]]) -> None:
    """Audit what pip-audit could not find, where PyPI's data covers the locked release."""
    missing = [d for d in deps if NOT_FOUND in str(d.get("skip_reason", ""))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = list(pool.map(lambda d: _project_document(str(d["name"])), missing))
    for dep, doc in zip(missing, docs, strict=True):
        if doc is None:
            dep["skip_reason"] = "no advisory data reachable"
            continue
        info = doc.get("info")
        latest = info.get("version") if isinstance(info, dict) else None
        if latest != dep["version"]:
            dep["skip_reason"] = f"advisory data here covers only the newest release ({latest})"
            continue
        dep.pop("skip_reason")
        vulns = doc.get("vulnerabilities") or []
        assert isinstance(vulns, list)
        dep["vulns"] = [
            {
                "id": v.get("id"),
                "aliases": v.get("aliases") or [],
                "fix_versions": v.get("fixed_in") or [],
            }
            for v in vulns
            if not v.get("withdrawn")
        ]


def main(argv: list[str]) -> int:
    partial_ok = "--partial-ok" in argv
    argv = [a for a in argv if a != "--partial-ok"]
    if len(argv) != 1:
        print("usage: dep_audit.py LOCKFILE [--partial-ok]", file=sys.stderr)
        return 2
    report = run_audit(Path(argv[0]))
    deps = report.get("dependencies", [])
    assert isinstance(deps, list)
    pins, _ = read_lock(Path(argv[0]).read_text(encoding="utf-8"))
    for dep in deps:
        dep.setdefault("version", str(pins.get(str(dep["name"]), "?")))
    fill_from_project_documents(deps)
    fixable = unfixed = 0
    for dep in deps:
        for vuln in dep.get("vulns", []):
            fixes = vuln.get("fix_versions") or []
            aliases = ",".join(vuln.get("aliases") or [])
            kind = "FIX AVAILABLE" if fixes else "no fix yet"
            print(
                f"{dep['name']}=={dep['version']}  {vuln['id']}"
                f"{' (' + aliases + ')' if aliases else ''}  {kind}: {', '.join(fixes) or '-'}"
            )
            if fixes:
                fixable += 1
            else:
                unfixed += 1
    skipped = [d for d in deps if d.get("skip_reason")]
    for dep in skipped:
        print(f"audit: {dep['name']} not audited: {dep['skip_reason']}", file=sys.stderr)
    print(
        f"audit: {len(deps)} locked packages, {fixable} advisories with a fix, "
        f"{unfixed} without one, {len(skipped)} not audited"
    )
    if fixable:
        return 1
    return 3 if skipped and not partial_ok else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
