"""Pay connector credentials: shown once, stored as a hash, compared in constant time,
revocable, audited; and the CLI that manages them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from cardshield.cli import app as cli
from cardshield.phone.pay_connector.credentials import (
    PASSWORD_BITS,
    PayConnectorAuthFailed,
    authenticate,
    create_credential,
    hash_password,
    parse_basic,
    revoke_credential,
)
from cardshield.storage.schema import audit_log, pay_connector_credentials
from tests.apps import NOW, Api


def test_create_authenticate_revoke(api: Api) -> None:
    engine = api.runtime.engine
    with engine.begin() as conn:
        created = create_credential(conn, now=NOW, merchant_id=api.merchant, actor="test")
    password = created.password.reveal()
    assert password not in repr(created)
    assert len(password) == 4 + 43  # prefix + 256 bits in base62
    assert PASSWORD_BITS == 256
    with engine.connect() as conn:
        row = conn.execute(select(pay_connector_credentials)).one()
    assert row.password_hash == hash_password(password)
    assert password not in repr(tuple(row))
    with engine.begin() as conn:
        info = authenticate(conn, created.info.username, password, now=NOW)
        assert info.merchant_id == api.merchant
        for username, guess in [
            (created.info.username, password[:-1] + ("x" if password[-1] != "x" else "y")),
            ("pcu_unknown", password),
        ]:
            with pytest.raises(PayConnectorAuthFailed):
                authenticate(conn, username, guess, now=NOW)
        revoke_credential(
            conn, now=NOW, merchant_id=api.merchant, username=created.info.username, actor="t"
        )
        with pytest.raises(PayConnectorAuthFailed):
            authenticate(conn, created.info.username, password, now=NOW)
    with engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log.c.action))]
    assert "pay_connector_credential.create" in actions
    assert "pay_connector_credential.revoke" in actions


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer x",
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b":pw").decode(),
        "Basic " + base64.b64encode(b"u:").decode(),
    ],
)
def test_malformed_basic_headers(header: str | None) -> None:
    assert parse_basic(header) is None


def test_basic_header() -> None:
    value = base64.b64encode(b"pcu_a:pcp_b:c").decode()
    assert parse_basic(f"basic {value}") == ("pcu_a", "pcp_b:c")


def test_cli_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI opens the runtime from settings: a migrated SQLite database with a local key.
    data = tmp_path / "cli"
    runner = CliRunner()
    monkeypatch.setenv("CARDSHIELD_DATA_DIR", str(data))
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 0
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(cli, ["merchants", "add", "phone shop"])
    assert made.exit_code == 0, made.output
    merchant = made.output.strip()
    created = runner.invoke(
        cli, ["pay-connector", "credentials", "create", "--merchant", merchant, "--json"]
    )
    assert created.exit_code == 0, created.output
    pair = json.loads(created.output)
    listed = runner.invoke(
        cli, ["pay-connector", "credentials", "list", "--merchant", merchant, "--json"]
    )
    assert listed.exit_code == 0, listed.output
    assert pair["password"] not in listed.output
    assert [c["username"] for c in json.loads(listed.output)] == [pair["username"]]
    revoked = runner.invoke(
        cli, ["pay-connector", "credentials", "revoke", pair["username"], "--merchant", merchant]
    )
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(
        cli, ["pay-connector", "credentials", "list", "--merchant", merchant, "--json"]
    )
    assert json.loads(listed.output)[0]["revoked"] is not None
    engine = create_engine(f"sqlite:///{data / 'vault.db'}")
    with engine.connect() as conn:
        stored = conn.execute(select(pay_connector_credentials.c.password_hash)).scalar_one()
    engine.dispose()
    assert stored == hash_password(pair["password"])
    unknown = runner.invoke(
        cli, ["pay-connector", "credentials", "create", "--merchant", "mer_nobody"]
    )
    assert unknown.exit_code != 0
