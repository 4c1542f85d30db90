"""The lock check: declared dependencies against requirements.lock, and the venv against both."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lockcheck = _load("lockcheck")

LOCK = """\
alpha==1.2.0 \\
    --hash=sha256:00
    # via cardshield (pyproject.toml)
beta==2.0.0 \\
    --hash=sha256:11
    # via
    #   alpha
    #   cardshield (pyproject.toml)
gamma==0.3 \\
    --hash=sha256:22
    # via beta
hatchling==1.30.0 \\
    --hash=sha256:33
    # via cardshield (pyproject.toml::build-system.requires)
"""


def _pyproject(deps: list[str], dev: list[str] | None = None) -> dict[str, object]:
    return {
        "build-system": {"requires": ["hatchling>=1.25"]},
        "project": {"dependencies": deps, "optional-dependencies": {"dev": dev or []}},
    }


def test_the_committed_lock_matches_the_committed_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = (ROOT / "requirements.lock").read_text()
    assert lockcheck.pyproject_problems(pyproject, lock) == []


def test_every_locked_line_is_pinned_with_a_hash() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    pins, direct = lockcheck.read_lock(lock)
    assert len(pins) > 100
    assert {"fastapi", "cryptography", "mypy", "ruff", "hatchling", "pip"} <= set(pins)
    heads = [
        line for line in lock.splitlines() if line and not line[0].isspace() and line[0] != "#"
    ]
    assert len(heads) == len(pins), "a requirement that is not pinned with =="
    assert all(lockcheck._PIN.match(h) and h.endswith("\\") for h in heads), "no hashes"
    assert "fastapi" in direct and "gamma" not in direct


def test_matching_lock_has_no_problems() -> None:
    assert lockcheck.pyproject_problems(_pyproject(["alpha>=1", "Beta"]), LOCK) == []


def test_a_dependency_added_to_pyproject_only_is_named() -> None:
    problems = lockcheck.pyproject_problems(_pyproject(["alpha", "beta", "delta>=1"]), LOCK)
    assert problems == ["'delta' is in pyproject.toml but not in requirements.lock"]


def test_a_dependency_left_in_the_lock_only_is_named() -> None:
    problems = lockcheck.pyproject_problems(_pyproject(["alpha"]), LOCK)
    assert problems == ["'beta' is locked as a dependency of cardshield but not in pyproject.toml"]


def test_a_pin_outside_the_declared_range_is_named() -> None:
    problems = lockcheck.pyproject_problems(_pyproject(["alpha>=1.3", "beta"]), LOCK)
    assert problems == ["'alpha' is locked at 1.2.0, outside pyproject.toml's '>=1.3'"]


def test_a_build_requirement_outside_its_range_is_named() -> None:
    pyproject = _pyproject(["alpha", "beta"])
    pyproject["build-system"] = {"requires": ["hatchling>=1.31"]}
    problems = lockcheck.pyproject_problems(pyproject, LOCK)
    assert problems == ["'hatchling' is locked at 1.30.0, outside pyproject.toml's '>=1.31'"]


def test_a_dependency_for_another_platform_need_not_be_locked() -> None:
    deps = ["alpha", "beta", "winonly>=1; sys_platform == 'win32'"]
    assert lockcheck.pyproject_problems(_pyproject(deps), LOCK) == []


def test_this_venv_is_exactly_the_lock() -> None:
    # The suite runs in the venv `make` built; it must hold the lock and nothing else.
    assert lockcheck.venv_problems((ROOT / "requirements.lock").read_text()) == []


def test_the_venv_check_names_a_missing_and_a_changed_package() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    lock = lock.replace("\nruff==", "\nruff==0.0.1\nnot-a-real-package==1.0 \\\nx==", 1)
    problems = lockcheck.venv_problems(lock)
    assert "'not-a-real-package==1.0' is locked but not installed" in problems
    assert any(p.startswith("'ruff' is installed at ") for p in problems)


def test_cli_fails_with_one_line_per_problem(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "tools").mkdir(parents=True)
    (root / "tools" / "lockcheck.py").write_text((ROOT / "tools" / "lockcheck.py").read_text())
    (root / "requirements.lock").write_text(LOCK)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\n'
        '[project]\nname = "cardshield"\ndependencies = ["alpha", "beta", "delta"]\n'
    )
    done = subprocess.run(
        [sys.executable, str(root / "tools" / "lockcheck.py"), "pyproject"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "lock: 'delta' is in pyproject.toml but not in requirements.lock;"
        " run 'make lock' and commit requirements.lock with pyproject.toml"
    ]
