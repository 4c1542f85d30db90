"""``cardshield webhooks`` as an operator runs it, against a SQLite data dir."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.crypto.kms import init_kms
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import merchants, webhook_deliveries
from tests.unit.payments.webhooks.conftest import MERCHANT, NOW, emit
from tests.unit.payments.webhooks.receiver import Receiver


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    engine = make_engine(f"sqlite:///{tmp_path / 'vault.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(merchants).values(id=MERCHANT, name="Shop", created_at=NOW))
    engine.dispose()
    init_kms(f"local:{tmp_path / 'kek.key'}").close()  # the audit entries are keyed with it
    # The CLI configures logging for its process; put this one's back afterwards.
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.setLogRecordFactory(factory)


def _run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    env = {"CARDSHIELD_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    result = CliRunner().invoke(app, ["webhooks", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_endpoints_deliveries_replay_worker_once(data_dir: Path) -> None:
    with Receiver() as receiver:
        code, out, _ = _run(
            data_dir,
            "endpoints",
            "add",
            receiver.url,
            "--merchant",
            MERCHANT,
            "--events",
            "payment.captured,payment.refunded",
            "--allow-http-loopback",
        )
        assert code == 0
        endpoint_id, secret_line = out.strip().splitlines()
        assert endpoint_id.startswith("we_") and "whsec_" in secret_line
        code, out, _ = _run(data_dir, "endpoints", "list")
        assert code == 0 and endpoint_id in out and "whsec_" not in out

        engine = make_engine(f"sqlite:///{data_dir / 'vault.db'}")
        evt = emit(engine, "payment.captured", "pay_1")
        code, out, _ = _run(data_dir, "worker", "--once", "--allow-http-loopback")
        assert code == 0 and "handled 1" in out
        assert len(receiver.delivered()) == 1

        code, out, _ = _run(data_dir, "deliveries", "--status", "delivered")
        assert code == 0 and "payment.captured" in out and "200" in out
        code, out, _ = _run(data_dir, "deliveries", "--status", "pending")
        assert code == 0 and "payment.captured" not in out
        code, out, _ = _run(data_dir, "attempts", "1")
        assert code == 0 and "200" in out

        code, out, _ = _run(data_dir, "replay", evt)
        assert code == 0 and "queued 1" in out
        with engine.connect() as conn:
            assert conn.execute(select(webhook_deliveries.c.status)).scalar_one() == "pending"
        code, out, _ = _run(data_dir, "replay", "1")
        assert code == 0 and "queued 1" in out
        code, out, _ = _run(data_dir, "worker", "--once", "--allow-http-loopback")
        assert "handled 1" in out and len(receiver.delivered()) == 2

        code, out, _ = _run(data_dir, "endpoints", "roll-secret", endpoint_id)
        assert code == 0 and "whsec_" in out and out.strip() != secret_line
        code, out, _ = _run(data_dir, "endpoints", "disable", endpoint_id)
        assert code == 0 and f"disabled {endpoint_id}" in out
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("endpoints", "add", "http://shop.example/h", "--merchant", MERCHANT), "https"),
        (("endpoints", "add", "https://shop.example/h", "--merchant", "mer_x"), "merchant"),
        (
            ("endpoints", "add", "https://s.example/h", "--merchant", MERCHANT, "--events", "x"),
            "event",
        ),
        (("endpoints", "disable", "we_nope"), "No such webhook endpoint"),
        (("replay", "evt_nope"), "No such event"),
        (("replay", "nonsense"), "event id"),
    ],
)
def test_errors_are_one_line(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = _run(data_dir, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def test_worker_stops_cleanly_on_ctrl_c(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env["CARDSHIELD_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cardshield", "webhooks", "worker", "--idle", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert "running" in proc.stderr.readline()
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "webhook worker stopped" in err and "Traceback" not in err
