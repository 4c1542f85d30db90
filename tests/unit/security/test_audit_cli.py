"""``cardshield audit seal`` and ``cardshield audit verify`` as an operator runs them."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, delete, update
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.storage.schema import audit_checkpoints, audit_log
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.security.conftest import append_many

runner = CliRunner()


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    # A named memory KMS is shared by every open_kms() in this process: seal and verify
    # see the same signing key, as two runs against one real KMS would. The data dir holds
    # the sealer's head file.
    return {
        "CARDSHIELD_DATA_DIR": str(data_dir),
        "CARDSHIELD_DATABASE_URL": database_url,
        "CARDSHIELD_KMS_URL": f"memory:audit-cli-{secrets.token_hex(4)}",
    }


def test_seal_then_verify_then_tamper(engine: Engine, database_url: str, tmp_path: Path) -> None:
    env = _env(database_url, tmp_path / "data")
    append_many(engine, 5)
    sealed = runner.invoke(app, ["audit", "seal", "--json", "--checkpoint-every", "2"], env=env)
    assert sealed.exit_code == 0, sealed.output
    report = json.loads(sealed.output)
    assert report["sealed"] == 5 and report["checkpoints"] == [2, 4, 5]
    assert report["stalled_at"] is None and report["pending"] == 0

    ok = runner.invoke(app, ["audit", "verify", "--checkpoint-every", "2"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit log intact" in ok.output and "5 (0 recorded gaps)" in ok.output

    as_json = runner.invoke(app, ["audit", "verify", "--json", "--checkpoint-every", "2"], env=env)
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["head_seq"] == 5

    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(target=CANARY_PAN))
    bad = runner.invoke(app, ["audit", "verify", "--checkpoint-every", "2"], env=env)
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [
        "TAMPERED: audit entry 3: edited: its content does not match its content hash"
    ]
    bad_json = runner.invoke(app, ["audit", "verify", "--json", "--checkpoint-every", "2"], env=env)
    assert bad_json.exit_code == 1
    assert json.loads(bad_json.output)["problem"]["kind"] == "edited"
    assert_no_card_data(bad.output + bad_json.output)

    other_key = {**env, "CARDSHIELD_KMS_URL": "memory:"}
    forged = runner.invoke(app, ["audit", "verify", "--checkpoint-every", "2"], env=other_key)
    assert forged.exit_code == 1 and "audit entry 2: bad_checkpoint" in forged.output


def test_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    env = {"CARDSHIELD_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = runner.invoke(app, ["audit", "verify"], env={**env, "CARDSHIELD_KMS_URL": "memory:"})
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: the database has no cardshield schema: run `cardshield db upgrade`"
    )
    result = runner.invoke(app, ["audit", "seal"], env={**env, "CARDSHIELD_KMS_URL": "nope:x"})
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardshield", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_operator_flow_with_a_local_key_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSHIELD_")}
    env["CARDSHIELD_DATA_DIR"] = str(tmp_path / "data")
    assert _cli(env, "db", "upgrade").returncode == 0
    assert _cli(env, "keys", "init").returncode == 0
    rotated = _cli(env, "keys", "rotate")  # writes an audit entry
    assert rotated.returncode == 0, rotated.stderr
    sealed = _cli(env, "audit", "seal", "--json")
    assert sealed.returncode == 0, sealed.stderr
    assert json.loads(sealed.stdout)["sealed"] >= 1
    assert _cli(env, "audit", "verify").returncode == 0

    with sqlite3.connect(tmp_path / "data" / "vault.db") as db:
        db.execute("DELETE FROM audit_log WHERE seq = 1")
    tampered = _cli(env, "audit", "verify")
    assert tampered.returncode == 1
    assert tampered.stdout.strip().startswith("TAMPERED: audit entry 1: deleted")


def test_verify_against_the_head_the_sealer_kept(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = _env(database_url, tmp_path / "data")
    head_file = tmp_path / "data" / "audit-head.json"
    append_many(engine, 5)
    sealed = runner.invoke(app, ["audit", "seal", "--checkpoint-every", "2"], env=env)
    assert sealed.exit_code == 0, sealed.output
    head = json.loads(head_file.read_text())
    assert (head["format"], head["seq"]) == ("cardshield.audit.head.v1", 5)
    verify = ["audit", "verify", "--checkpoint-every", "2", "--expect-head"]
    ok = runner.invoke(app, [*verify, str(head_file)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "entry 5: matches" in ok.output

    with engine.begin() as conn:  # delete the newest entries and their checkpoints
        conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.upto_seq >= 4))
    plain = runner.invoke(app, ["audit", "verify", "--checkpoint-every", "2"], env=env)
    assert plain.exit_code == 0  # the database alone cannot tell
    line = "TAMPERED: audit entry 4: truncated: the sealed chain ends at entry 3, before the "
    for expected in (str(head_file), f"5:{head['chain_hash']}"):
        bad = runner.invoke(app, [*verify, expected], env=env)
        assert bad.exit_code == 1
        assert bad.output.strip().splitlines() == [line + "expected head 5"]
    as_json = runner.invoke(app, [*verify, str(head_file), "--json"], env=env)
    assert as_json.exit_code == 1
    report = json.loads(as_json.output)
    assert (report["problem"]["kind"], report["expected_head"]) == ("truncated", 5)

    append_many(engine, 2, start=10)
    refused = runner.invoke(app, ["audit", "seal", "--checkpoint-every", "2"], env=env)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "TAMPERED: the sealer stopped at audit entry 4: truncated: the sealed chain ends at "
        "entry 3, before the signed head 5 in the head file (run `cardshield audit verify`)"
    ]
    assert json.loads(head_file.read_text()) == head


def test_an_unusable_expected_head_is_one_line_with_exit_2(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = _env(database_url, tmp_path / "data")
    damaged = tmp_path / "head.json"
    damaged.write_text('{"format": "cardshield.audit.head.v1", "seq": "ten"}')
    for value, message in (
        (str(tmp_path / "missing.json"), "no such file, and not SEQ:CHAIN_HASH"),
        (str(damaged), "is damaged: audit head: seq must be a non-negative integer"),
    ):
        result = runner.invoke(app, ["audit", "verify", "--expect-head", value], env=env)
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
