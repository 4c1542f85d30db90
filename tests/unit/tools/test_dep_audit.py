"""The dependency audit's verdicts: fixable fails, unfixed warns, unaudited is never clean."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "tools"))


dep_audit = _load("dep_audit")

LOCK = "alpha==1.0 \\\n    --hash=sha256:00\nbeta==2.0 \\\n    --hash=sha256:11\n"
MISSING = "Dependency not found on PyPI and could not be audited"


def _run(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    report: dict[str, object],
    docs: dict[str, dict[str, object] | None],
    *flags: str,
) -> int:
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK)
    monkeypatch.setattr(dep_audit, "run_audit", lambda _lock: report)
    monkeypatch.setattr(dep_audit, "_project_document", lambda name: docs.get(name))
    return int(dep_audit.main([str(lock), *flags]))


def _doc(version: str, *vulns: dict[str, object]) -> dict[str, object]:
    return {"info": {"version": version}, "vulnerabilities": list(vulns)}


def test_a_vulnerability_with_a_fix_fails(monkeypatch, tmp_path, capsys) -> None:
    report = {
        "dependencies": [
            {
                "name": "alpha",
                "version": "1.0",
                "vulns": [{"id": "PYSEC-1", "fix_versions": ["1.1"], "aliases": ["CVE-1"]}],
            },
            {"name": "beta", "version": "2.0", "vulns": []},
        ]
    }
    assert _run(monkeypatch, tmp_path, report, {}) == 1
    out = capsys.readouterr().out
    assert "alpha==1.0  PYSEC-1 (CVE-1)  FIX AVAILABLE: 1.1" in out
    assert "1 advisories with a fix" in out


def test_a_vulnerability_without_a_fix_warns_only(monkeypatch, tmp_path, capsys) -> None:
    report = {
        "dependencies": [
            {"name": "alpha", "version": "1.0", "vulns": [{"id": "GHSA-x", "fix_versions": []}]},
            {"name": "beta", "version": "2.0", "vulns": []},
        ]
    }
    assert _run(monkeypatch, tmp_path, report, {}) == 0
    assert "alpha==1.0  GHSA-x  no fix yet: -" in capsys.readouterr().out


def test_project_documents_audit_the_newest_release(monkeypatch, tmp_path, capsys) -> None:
    report = {
        "dependencies": [{"name": n, "skip_reason": f"{MISSING}: {n}"} for n in ("alpha", "beta")]
    }
    docs = {
        "alpha": _doc("1.0", {"id": "PYSEC-9", "fixed_in": ["1.0.1"], "aliases": []}),
        "beta": _doc("2.0"),
    }
    assert _run(monkeypatch, tmp_path, report, docs) == 1
    assert "alpha==1.0  PYSEC-9  FIX AVAILABLE: 1.0.1" in capsys.readouterr().out


def test_a_pin_behind_the_newest_release_is_not_counted_clean(
    monkeypatch, tmp_path, capsys
) -> None:
    report = {
        "dependencies": [{"name": n, "skip_reason": f"{MISSING}: {n}"} for n in ("alpha", "beta")]
    }
    docs = {"alpha": _doc("1.5"), "beta": None}
    assert _run(monkeypatch, tmp_path, report, docs) == 3
    err = capsys.readouterr().err
    assert "alpha not audited: advisory data here covers only the newest release (1.5)" in err
    assert "beta not audited: no advisory data reachable" in err
    # Allowed to pass, still named.
    assert _run(monkeypatch, tmp_path, report, docs, "--partial-ok") == 0
    assert "alpha not audited" in capsys.readouterr().err


def test_a_withdrawn_advisory_is_ignored(monkeypatch, tmp_path) -> None:
    report = {"dependencies": [{"name": "alpha", "skip_reason": f"{MISSING}: alpha"}]}
    docs = {"alpha": _doc("1.0", {"id": "X", "fixed_in": ["2"], "withdrawn": "2026-01-01"})}
    assert _run(monkeypatch, tmp_path, report, docs) == 0
