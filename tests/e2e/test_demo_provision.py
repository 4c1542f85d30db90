"""What ``cardshield demo`` sets up before it serves: first run, reuse, new ports."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cardshield.commands.demo import STATE_FILE, Origins, _origins, provision
from cardshield.config import Settings
from cardshield.payments.webhooks import list_endpoints
from cardshield.runtime import open_runtime
from cardshield.security import totp
from cardshield.security.apikeys import list_keys
from cardshield.security.security_keys import RelyingParty
from cardshield.storage.schema import operators

pytestmark = pytest.mark.integration


def _settings(data_dir: Path, origins: Origins) -> Settings:
    return Settings(data_dir=data_dir, public_url=origins.api, allow_http_loopback_webhooks=True)


def test_first_run_creates_everything_and_later_runs_reuse_it(tmp_path: Path) -> None:
    data_dir = tmp_path / ".cardshield"
    origins = _origins("127.0.0.1", 8750, 8000)
    now = datetime.now(UTC)
    state, first = provision(_settings(data_dir, origins), origins, now)
    assert first
    assert (data_dir / "kek.key").exists() and (data_dir / "vault.db").exists()
    assert (data_dir / STATE_FILE).stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert state["secret_key"].startswith("sk_") and state["publishable_key"].startswith("pk_")
    assert state["shop_origins"] == ["http://localhost:8000", "http://127.0.0.1:8000"]
    # The console is offered under a host name, where security keys can be used.
    assert origins.console == "http://localhost:8750"
    assert RelyingParty.for_url(origins.console) is not None
    assert RelyingParty.for_url(_origins("0.0.0.0", 8750, 8000).console) is not None
    op = state["operator"]
    assert op["otpauth_uri"].startswith("otpauth://totp/") and len(op["recovery_codes"]) == 10
    seed = base64.b32decode(op["totp_secret"] + "=" * (-len(op["totp_secret"]) % 8))
    assert len(seed) == totp.SEED_BYTES

    again, first_again = provision(_settings(data_dir, origins), origins, now)
    assert (again, first_again) == (state, False)

    moved = _origins("127.0.0.1", 8750, 9000)
    third, _ = provision(_settings(data_dir, moved), moved, now)
    assert third["merchant"] == state["merchant"] and third["secret_key"] == state["secret_key"]
    assert third["publishable_key"] != state["publishable_key"]
    assert third["webhook_url"] == "http://127.0.0.1:9000/webhooks/cardshield"

    runtime = open_runtime(_settings(data_dir, moved))
    try:
        with runtime.engine.connect() as conn:
            keys = {
                k.id: k
                for k in list_keys(conn, merchant_id=state["merchant"], include_revoked=True)
            }
            endpoints = {e.id: e for e in list_endpoints(conn, merchant_id=state["merchant"])}
            admins = conn.execute(select(operators.c.username, operators.c.role)).all()
        assert keys[state["publishable_key_id"]].revoked_at is not None
        assert set(keys[third["publishable_key_id"]].allowed_origins) == {
            "http://localhost:9000",
            "http://127.0.0.1:9000",
        }
        assert not endpoints[state["webhook_endpoint_id"]].enabled
        assert endpoints[third["webhook_endpoint_id"]].enabled
        assert [tuple(a) for a in admins] == [("demo-admin", "admin")]
    finally:
        runtime.close()
