"""Check that requirements.lock, pyproject.toml and the installed venv agree.

    python tools/lockcheck.py pyproject   # every declared dependency is locked, and nothing else is
    python tools/lockcheck.py venv        # `pip freeze` of this interpreter is exactly the lock

Each failure is one line on stderr naming the package, and exit status 1, so CI stops with a
reason instead of a resolver traceback later on. Runs with the venv's interpreter: it uses
`packaging`, which the lock itself pins.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
PROJECT = "cardshield"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# pip-compile names what asked for each pin: "cardshield (pyproject.toml)" for the project's
# own dependencies, "...::build-system.requires" for what builds it.
_DIRECT = re.compile(rf"#\s+(?:via\s+)?{PROJECT} \(pyproject\.toml(::build-system\.requires)?\)")


def read_lock(text: str) -> tuple[dict[str, Version], set[str]]:
    """The lock's pins, and the names pip-compile recorded as asked for by the project."""
    pins: dict[str, Version] = {}
    direct: set[str] = set()
    current: str | None = None
    for line in text.splitlines():
        pin = _PIN.match(line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = Version(pin.group(2))
        elif current and _DIRECT.search(line):
            direct.add(current)
    return pins, direct


def declared(pyproject: dict[str, object]) -> list[Requirement]:
    """Runtime, every optional group, and the build system's requirements."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    raw: list[str] = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        raw.extend(group)
    build = pyproject.get("build-system", {})
    assert isinstance(build, dict)
    raw.extend(build.get("requires", []))
    return [Requirement(r) for r in raw]


def pyproject_problems(pyproject: dict[str, object], lock_text: str) -> list[str]:
    pins, direct = read_lock(lock_text)
    env = default_environment()
    problems: list[str] = []
    wanted: set[str] = set()
    for req in declared(pyproject):
        name = canonicalize_name(req.name)
        wanted.add(name)
        if req.marker is not None and not req.marker.evaluate(dict(env, extra="")):
            continue  # not for this platform: the lock resolved for this one
        if name not in pins:
            problems.append(f"'{req.name}' is in pyproject.toml but not in requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(
                f"'{req.name}' is locked at {pins[name]},"
                f" outside pyproject.toml's '{req.specifier}'"
            )
    for name in sorted(direct - wanted):
        problems.append(
            f"'{name}' is locked as a dependency of {PROJECT} but not in pyproject.toml"
        )
    return problems


def venv_problems(lock_text: str) -> list[str]:
    pins, _ = read_lock(lock_text)
    installed: dict[str, Version] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name != PROJECT:
            installed[name] = Version(dist.version)
    env = default_environment()
    problems: list[str] = []
    markers = _markers(lock_text)
    for name, version in sorted(pins.items()):
        marker = markers.get(name)
        if marker is not None and not marker.evaluate(dict(env, extra="")):
            continue
        have = installed.pop(name, None)
        if have is None:
            problems.append(f"'{name}=={version}' is locked but not installed")
        elif have != version:
            problems.append(f"'{name}' is installed at {have}, the lock says {version}")
    for name, version in sorted(installed.items()):
        problems.append(f"'{name}=={version}' is installed but not in requirements.lock")
    return problems


def _markers(lock_text: str) -> dict[str, Marker | None]:
    found: dict[str, Marker | None] = {}
    for line in lock_text.splitlines():
        pin = _PIN.match(line)
        if pin and ";" in line:
            req = Requirement(line.split("\\")[0].strip())
            found[canonicalize_name(req.name)] = req.marker
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"pyproject", "venv"}:
        print("usage: lockcheck.py pyproject|venv", file=sys.stderr)
        return 2
    lock_text = LOCK.read_text(encoding="utf-8")
    if argv[0] == "pyproject":
        pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
        problems = pyproject_problems(pyproject, lock_text)
        fix = "run 'make lock' and commit requirements.lock with pyproject.toml"
    else:
        problems = venv_problems(lock_text)
        fix = "run 'make clean venv' to rebuild the venv from the lock"
    for problem in problems:
        print(f"lock: {problem}; {fix}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
