"""``cardshield users ...`` and ``cardshield audit export`` as an operator runs them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.commands.audit import parse_since
from cardshield.security import append
from cardshield.storage.schema import operators
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.security.operator_support import PASSWORD, actions, clear, shared_database

runner = CliRunner()
migrated = shared_database()


@pytest.fixture
def engine(migrated: Engine) -> Iterator[Engine]:
    yield migrated
    clear(migrated)


def _env(engine: Engine) -> dict[str, str]:
    return {
        "CARDSHIELD_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "CARDSHIELD_KMS_URL": f"memory:users-cli-{secrets.token_hex(4)}",
    }


def test_users_lifecycle(engine: Engine) -> None:
    env = _env(engine)
    added = runner.invoke(
        app,
        ["users", "add", "Alice", "--role", "admin", "--name", "Alice A"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "created op_" in added.output and PASSWORD not in added.output
    stdin = runner.invoke(
        app,
        ["users", "add", "bob", "--role", "operator", "--password-stdin"],
        input=f"{PASSWORD}\n",
        env=env,
    )
    assert stdin.exit_code == 0, stdin.output
    weak = runner.invoke(
        app,
        ["users", "add", "carl", "--role", "agent", "--password-stdin"],
        input="password1234\n",
        env=env,
    )
    assert weak.exit_code == 2 and "commonly used" in weak.output
    bad_role = runner.invoke(app, ["users", "add", "dora", "--role", "root"], env=env)
    assert bad_role.exit_code == 2 and "unknown role" in bad_role.output

    listed = json.loads(runner.invoke(app, ["users", "list", "--json"], env=env).output)
    assert [(u["username"], u["role"], u["mfa"], u["security_keys"]) for u in listed] == [
        ("alice", "admin", False, 0),
        ("bob", "operator", False, 0),
    ]
    table = runner.invoke(app, ["users", "list"], env={**env, "COLUMNS": "200"})
    assert "not enrolled" in table.output and "alice" in table.output

    assert runner.invoke(app, ["users", "set-role", "bob", "auditor"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "reset-mfa", "bob"], env=env).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "bob"], env=env).exit_code == 0
    last_admin = runner.invoke(app, ["users", "disable", "alice"], env=env)
    assert last_admin.exit_code == 2 and "last active admin" in last_admin.output
    missing = runner.invoke(app, ["users", "disable", "nobody"], env=env)
    assert missing.exit_code == 2 and "No such operator" in missing.output
    new_pw = runner.invoke(
        app,
        ["users", "set-password", "bob", "--password-stdin"],
        input="another-long-secret-9\n",
        env=env,
    )
    assert new_pw.exit_code == 0, new_pw.output
    with engine.connect() as conn:
        bob = conn.execute(select(operators).where(operators.c.username == "bob")).one()
    assert bob.role == "auditor" and bob.disabled_at is not None
    assert [a for a, _ in actions(engine)] == [
        "operator.create",
        "operator.create",
        "operator.role_change",
        "operator.mfa_reset",
        "operator.disable",
        "operator.password_change",
    ]


def test_audit_export_json_lines(engine: Engine, tmp_path: Path) -> None:
    env = _env(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        append(conn, now=now - timedelta(days=3), actor="cli", action="card.tokenize")
        append(
            conn,
            now=now - timedelta(hours=1),
            actor="api_key:key_1",
            action="card.use",
            merchant_id="m_1",
            target="tok_abc",
            details={"note": f"pasted {CANARY_PAN} by mistake"},
        )
        append(conn, now=now - timedelta(minutes=5), actor="op", action="operator.login")
    out = runner.invoke(app, ["audit", "export", "--since", "24h"], env=env)
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.output.splitlines()]
    assert [e["action"] for e in lines] == ["card.use", "operator.login"]
    first = lines[0]
    assert first["merchant_id"] == "m_1" and first["target"] == "tok_abc"
    assert first["details"]["note"].startswith("pasted 424242") and not first["sealed"]
    assert len(first["content_hash"]) == 64 and first["occurred_at"].endswith("Z")
    assert_no_card_data(out.output)
    only_cards = runner.invoke(
        app,
        ["audit", "export", "--since", "7d", "--action", "card.", "-o", str(tmp_path / "x")],
        env=env,
    )
    assert only_cards.exit_code == 0 and "exported 2 entries" in only_cards.output
    written = (tmp_path / "x").read_text().splitlines()
    assert [json.loads(line)["action"] for line in written] == ["card.tokenize", "card.use"]
    bad = runner.invoke(app, ["audit", "export", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "not a time" in bad.output


def test_parse_since() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00", now=now) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a time"):
        parse_since("soon", now=now)
