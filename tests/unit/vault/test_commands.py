"""The vault's commands, run as an operator would: a fresh data dir, a local key file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env["CARDSHIELD_DATA_DIR"] = str(tmp_path / "data")
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardshield", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_operator_flow(tmp_path: Path) -> None:
    env = _env(tmp_path)
    refused = _cli(env, "merchants", "list")
    assert refused.returncode == 2
    assert "cardshield db upgrade" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    assert _cli(env, "db", "upgrade").returncode == 0
    no_key = _cli(env, "merchants", "list")
    assert no_key.returncode == 2
    assert "cardshield keys init" in no_key.stderr

    assert _cli(env, "keys", "init").returncode == 0
    key_file = tmp_path / "data" / "kek.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _cli(env, "keys", "init")
    assert again.returncode == 2

    merchant = _cli(env, "merchants", "add", "Shop").stdout.strip()
    assert merchant.startswith("mer_")
    status = json.loads(_cli(env, "keys", "status", "--json").stdout)
    assert status["versions"] == [{"version": 1, "data_keys": 2}]

    rotated = _cli(env, "keys", "rotate")
    assert "2 data keys to rewrap" in rotated.stdout
    assert "rewrapped 2 data keys" in _cli(env, "keys", "rewrap").stdout
    status = json.loads(_cli(env, "keys", "status", "--json").stdout)
    assert status["current_version"] == 2
    assert status["pending_rewrap"] == 0
    assert {"version": 2, "data_keys": 2} in status["versions"]

    assert "purged 0 cards" in _cli(env, "vault", "purge").stdout
    deleted = _cli(env, "merchants", "delete", merchant, "--yes")
    assert deleted.returncode == 0, deleted.stderr

    key_file.chmod(0o644)
    loose = _cli(env, "merchants", "list")
    assert loose.returncode == 2
    assert "chmod 600" in loose.stderr


@pytest.mark.parametrize("bad", ["CARDSHIELD_PORT=abc", "CARDSHIELD_KMS_URL=nope:x"])
def test_bad_settings_refuse_with_one_line(tmp_path: Path, bad: str) -> None:
    env = _env(tmp_path)
    key, value = bad.split("=", 1)
    env[key] = value
    assert _cli(env, "db", "upgrade").returncode in (0, 2)
    result = _cli(env, "merchants", "list")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_key_file_from_another_installation_refuses_to_start(tmp_path: Path) -> None:
    """Caught at start with one line, not at the first card the service tries to read."""
    env = _env(tmp_path)
    assert _cli(env, "db", "upgrade").returncode == 0
    assert _cli(env, "keys", "init").returncode == 0
    assert _cli(env, "merchants", "add", "Shop").returncode == 0
    key_file = tmp_path / "data" / "kek.key"
    key_file.rename(tmp_path / "kek.key.original")
    assert _cli(env, "keys", "init").returncode == 0  # a new, unrelated key file
    wrong = _cli(env, "merchants", "list")
    assert wrong.returncode == 2
    assert "cannot unwrap this database's data keys" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    (tmp_path / "kek.key.original").replace(key_file)
    assert _cli(env, "merchants", "list").returncode == 0
