"""KEK rotation and re-wrap while the vault keeps serving, including a kill -9 mid-rewrap.

The vault runs in this process with 4 threads tokenizing; `cardshield keys rotate` and
`cardshield keys rewrap` run as separate processes against the same PostgreSQL database
and local key file, as an operator would run them.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cardshield.cards import PAN, Expiry, luhn_check_digit
from cardshield.config import load_settings
from cardshield.runtime import open_runtime
from cardshield.storage.schema import data_keys
from cardshield.vault import Vault
from tests.databases import postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXP = Expiry(2031, 6)


def _pan(rng: random.Random) -> PAN:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return PAN(body + luhn_check_digit(body))


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    for url in postgres_database():
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
        environ |= {
            "CARDSHIELD_DATA_DIR": str(tmp_path),
            "CARDSHIELD_DATABASE_URL": url,
            "CARDSHIELD_KMS_URL": f"local:{tmp_path / 'kek.key'}",
        }
        yield environ


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardshield", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _kek_counts(vault: Vault) -> dict[int, int]:
    with vault.engine.connect() as conn:
        rows = conn.execute(
            select(data_keys.c.kek_version, func.count()).group_by(data_keys.c.kek_version)
        )
        return {int(v): int(n) for v, n in rows}


def test_rotate_and_rewrap_under_load_survives_kill_9(env: dict[str, str]) -> None:
    assert _cli(env, "keys", "init").returncode == 0
    assert _cli(env, "db", "upgrade").returncode == 0
    rt = open_runtime(load_settings(env=env))
    vault = rt.vault
    rng = random.Random(5)
    tokens: list[tuple[str, str, str]] = []  # (merchant, token, pan digits)
    lock = threading.Lock()

    merchants = [vault.create_merchant(f"m{i}", now=_now()) for i in range(600)]
    for m in merchants[:200]:
        pan = _pan(rng)
        rec = vault.tokenize(m, pan, EXP, now=_now(), single_use=False)
        tokens.append((m, rec.token, pan.reveal()))

    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        wrng = random.Random(seed)
        try:
            while not stop.is_set():
                m = (
                    wrng.choice(merchants)
                    if wrng.random() < 0.9
                    else vault.create_merchant("late", now=_now())
                )
                pan = _pan(wrng)
                rec = vault.tokenize(m, pan, EXP, now=_now(), single_use=False)
                with lock:
                    tokens.append((m, rec.token, pan.reveal()))
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        rotated = _cli(env, "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        # A re-wrap one key per transaction, killed once it has moved some keys.
        proc = subprocess.Popen(
            [sys.executable, "-m", "cardshield", "keys", "rewrap", "--batch-size", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while _kek_counts(vault).get(2, 0) < 20 and time.monotonic() < deadline:
            assert proc.poll() is None, "rewrap finished before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts = _kek_counts(vault)
        assert counts.get(1, 0) > 0, "kill came too late to interrupt the rewrap"
        assert counts.get(2, 0) >= 20
        resumed = _cli(env, "keys", "rewrap")
        assert resumed.returncode == 0, resumed.stderr
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    # Keys created by the workers between rotation and the last rewrap: move them too.
    assert _cli(env, "keys", "rewrap").returncode == 0
    status = _cli(env, "keys", "status", "--json")
    assert '"pending_rewrap": 0' in status.stdout, status.stdout
    assert set(_kek_counts(vault)) == {2}
    rt.close()

    # A fresh process view (empty key cache) decrypts every token ever issued.
    fresh = open_runtime(load_settings(env=env))
    try:
        assert len(tokens) > 200
        for merchant, token, digits in tokens:
            with fresh.vault.use_for_forwarding(
                merchant, token, now=_now(), actor="test", purpose="check"
            ) as card:
                assert card.pan.reveal() == digits
    finally:
        fresh.close()
