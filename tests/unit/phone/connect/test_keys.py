"""Connect key pairs and signing secrets: create, activate, list, retire, revoke; the limit
of two live keys; the private key and secret stored only sealed under the merchant's data
key; an audit entry for each change; and the ``cardshield connect`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.config import Settings
from cardshield.crypto.kms import init_kms
from cardshield.phone.connect import ConnectKeys
from cardshield.phone.connect.errors import (
    ConnectKeyIdInUse,
    ConnectKeyNotFound,
    ConnectKeyNotPending,
    ConnectSecretNotFound,
    InvalidConnectKeyId,
    InvalidInstanceArn,
    TooManyConnectKeys,
)
from cardshield.phone.connect.signing_secrets import (
    create_secret,
    list_secrets,
    live_secrets,
    revoke_secret,
)
from cardshield.runtime import open_runtime
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import audit_log, connect_keys, connect_secrets
from cardshield.vault.errors import MerchantNotFound
from tests.apps import NOW, Api
from tests.unit.phone.connect.support import INSTANCE_ARN, KID, OTHER_KID

runner = CliRunner()


def _actions(api: Api) -> list[tuple[str, str | None]]:
    with api.runtime.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.target)
            .where(audit_log.c.action.like("connect_%"))
            .order_by(audit_log.c.seq)
        ).all()
    return [(r.action, r.target) for r in rows]


def test_key_lifecycle_and_the_two_live_keys_limit(api: Api) -> None:
    keys = ConnectKeys(api.runtime.vault.keys)
    engine = api.runtime.engine
    with engine.begin() as conn:
        first = keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")
    assert first.status == "pending" and first.connect_key_id is None
    cert = x509.load_pem_x509_certificate(first.certificate_pem.encode())
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 4096
    assert cert.issuer == cert.subject  # self-signed: the uploaded key verifies it
    assert first.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    with engine.begin() as conn:
        with pytest.raises(InvalidConnectKeyId):
            keys.activate(
                conn,
                merchant_id=api.merchant,
                key_id=first.id,
                connect_key_id="x",
                now=NOW,
                actor="test",
            )
        active = keys.activate(
            conn,
            merchant_id=api.merchant,
            key_id=first.id,
            connect_key_id=KID.upper(),
            now=NOW,
            actor="test",
        )
    assert active.status == "active" and active.connect_key_id == KID
    with engine.begin() as conn:
        second = keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")
    with pytest.raises(TooManyConnectKeys), engine.begin() as conn:
        keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")
    with pytest.raises(ConnectKeyIdInUse), engine.begin() as conn:
        keys.activate(
            conn,
            merchant_id=api.merchant,
            key_id=second.id,
            connect_key_id=KID,
            now=NOW,
            actor="test",
        )
    with pytest.raises(ConnectKeyNotPending), engine.begin() as conn:
        keys.activate(
            conn,
            merchant_id=api.merchant,
            key_id=first.id,
            connect_key_id=OTHER_KID,
            now=NOW,
            actor="test",
        )
    # Another merchant cannot see or retire this merchant's keys.
    with pytest.raises(ConnectKeyNotFound), engine.begin() as conn:
        keys.retire(conn, merchant_id=api.other_merchant, key_id=first.id, now=NOW, actor="t")
    with engine.begin() as conn:
        retired = keys.retire(conn, merchant_id=api.merchant, key_id=first.id, now=NOW, actor="t")
        third = keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")  # room again
    assert retired.status == "retired"
    with engine.connect() as conn:
        listed = keys.list(conn, merchant_id=api.merchant)
        stored = {
            r.id: r.private_key
            for r in conn.execute(select(connect_keys.c.id, connect_keys.c.private_key))
        }
        assert keys.list(conn, merchant_id=api.other_merchant) == []
    assert {k.id: k.status for k in listed} == {
        first.id: "retired",
        second.id: "pending",
        third.id: "pending",
    }
    assert stored[first.id] is None  # retiring erased the private key
    for key_id in (second.id, third.id):
        blob = bytes(stored[key_id])
        assert blob.startswith(b"CSE1")  # the vault's envelope format, not a PEM
        assert b"PRIVATE KEY" not in blob
    assert _actions(api) == [
        ("connect_key.create", first.id),
        ("connect_key.activate", first.id),
        ("connect_key.create", second.id),
        ("connect_key.retire", first.id),
        ("connect_key.create", third.id),
    ]


def test_refused_changes_leave_nothing_behind(api: Api) -> None:
    keys = ConnectKeys(api.runtime.vault.keys)
    with pytest.raises(MerchantNotFound), api.runtime.engine.begin() as conn:
        keys.create(conn, merchant_id="mer_nobody", now=NOW, actor="test")
    with api.runtime.engine.connect() as conn:
        assert conn.execute(select(connect_keys)).all() == []
    assert _actions(api) == []


def test_signing_secrets(api: Api) -> None:
    engine, data_keys = api.runtime.engine, api.runtime.vault.keys
    with engine.begin() as conn:
        with pytest.raises(InvalidInstanceArn):
            create_secret(
                conn,
                data_keys,
                merchant_id=api.merchant,
                instance_arns=["arn:aws:s3:::b"],
                now=NOW,
                actor="test",
            )
        with pytest.raises(InvalidInstanceArn):
            create_secret(
                conn, data_keys, merchant_id=api.merchant, instance_arns=[], now=NOW, actor="t"
            )
        created = create_secret(
            conn,
            data_keys,
            merchant_id=api.merchant,
            # the same instance twice, its id in capitals the second time: kept once
            instance_arns=[INSTANCE_ARN, INSTANCE_ARN[:-36] + INSTANCE_ARN[-36:].upper()],
            now=NOW,
            actor="test",
        )
    value = created.secret.reveal()
    assert value.startswith("cnsec_") and len(value) > 40
    assert created.info.instance_arns == (INSTANCE_ARN,)
    assert value not in repr(created)
    with engine.connect() as conn:
        (live,) = live_secrets(conn, data_keys, merchant_id=api.merchant)
        assert live.secret.reveal() == value
        assert live_secrets(conn, data_keys, merchant_id=api.other_merchant) == []
        stored = conn.execute(select(connect_secrets.c.secret)).scalar_one()
    assert value.encode() not in bytes(stored) and bytes(stored).startswith(b"CSE1")
    with pytest.raises(ConnectSecretNotFound), engine.begin() as conn:
        revoke_secret(
            conn, merchant_id=api.other_merchant, secret_id=created.info.id, now=NOW, actor="t"
        )
    with engine.begin() as conn:
        revoke_secret(conn, merchant_id=api.merchant, secret_id=created.info.id, now=NOW, actor="t")
    with engine.connect() as conn:
        assert live_secrets(conn, data_keys, merchant_id=api.merchant) == []
        (info,) = list_secrets(conn, merchant_id=api.merchant)
        assert conn.execute(select(connect_secrets.c.secret)).scalar_one() is None
    assert info.revoked_at == NOW
    assert _actions(api) == [
        ("connect_secret.create", created.info.id),
        ("connect_secret.revoke", created.info.id),
    ]


def test_a_deleted_merchant_shreds_its_connect_keys(api: Api) -> None:
    keys = ConnectKeys(api.runtime.vault.keys)
    with api.runtime.engine.begin() as conn:
        key = keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")
        keys.activate(
            conn,
            merchant_id=api.merchant,
            key_id=key.id,
            connect_key_id=KID,
            now=NOW,
            actor="test",
        )
    api.runtime.vault.keys._cache.clear()  # as after a restart: nothing unwrapped in memory
    api.runtime.vault.delete_merchant(api.merchant, now=NOW)
    with pytest.raises(MerchantNotFound), api.runtime.engine.connect() as conn:
        keys.private_key(conn, merchant_id=api.merchant, connect_key_id=KID)


# -- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """A data directory with a local key file (the embedded default) and one merchant."""
    settings = Settings(data_dir=tmp_path)
    init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    rt = open_runtime(settings)
    try:
        merchant = rt.vault.create_merchant("connect shop", now=NOW)
    finally:
        rt.close()
    return {"CARDSHIELD_DATA_DIR": str(tmp_path)}, merchant


def test_connect_commands(cli_env: tuple[dict[str, str], str]) -> None:
    env, merchant = cli_env
    created = runner.invoke(app, ["connect", "keys", "create", "--merchant", merchant], env=env)
    assert created.exit_code == 0, created.output
    assert "-----BEGIN PUBLIC KEY-----" in created.output
    assert "-----BEGIN CERTIFICATE-----" in created.output
    assert "PRIVATE" not in created.output
    key_id = created.output.split()[1]
    assert key_id.startswith("ck_") and "connect keys activate" in created.output
    as_json = runner.invoke(
        app, ["connect", "keys", "create", "--merchant", merchant, "--json"], env=env
    )
    assert as_json.exit_code == 0, as_json.output
    second = json.loads(as_json.output)
    assert second["status"] == "pending" and second["certificate"].startswith("-----BEGIN")
    third = runner.invoke(app, ["connect", "keys", "create", "--merchant", merchant], env=env)
    assert third.exit_code == 2
    assert third.output.strip().splitlines() == ["error: " + TooManyConnectKeys.default_message]
    activated = runner.invoke(
        app,
        ["connect", "keys", "activate", key_id, "--merchant", merchant, "--connect-key-id", KID],
        env=env,
    )
    assert activated.exit_code == 0 and KID in activated.output, activated.output
    bad = runner.invoke(
        app,
        [
            "connect",
            "keys",
            "activate",
            second["id"],
            "--merchant",
            merchant,
            "--connect-key-id",
            "nope",
        ],
        env=env,
    )
    assert bad.exit_code == 2 and bad.output.startswith("error: ")
    listed = runner.invoke(
        app, ["connect", "keys", "list", "--merchant", merchant, "--json"], env=env
    )
    statuses = {k["id"]: k["status"] for k in json.loads(listed.output)}
    assert statuses == {key_id: "active", second["id"]: "pending"}
    table = runner.invoke(
        app, ["connect", "keys", "list", "--merchant", merchant], env={**env, "COLUMNS": "200"}
    )
    assert key_id in table.output and KID in table.output
    retired = runner.invoke(
        app, ["connect", "keys", "retire", second["id"], "--merchant", merchant], env=env
    )
    assert retired.exit_code == 0, retired.output
    missing = runner.invoke(
        app, ["connect", "keys", "retire", "ck_nope", "--merchant", merchant], env=env
    )
    assert missing.exit_code == 2 and "No such Amazon Connect key" in missing.output

    secret = runner.invoke(
        app,
        ["connect", "secrets", "create", "--merchant", merchant, "--instance-arn", INSTANCE_ARN],
        env=env,
    )
    assert secret.exit_code == 0, secret.output
    secret_id, value = secret.output.split()
    assert secret_id.startswith("ccs_") and value.startswith("cnsec_")
    shown = runner.invoke(
        app, ["connect", "secrets", "list", "--merchant", merchant, "--json"], env=env
    )
    assert value not in shown.output
    assert json.loads(shown.output)[0]["instance_arns"] == [INSTANCE_ARN]
    bad_arn = runner.invoke(
        app,
        ["connect", "secrets", "create", "--merchant", merchant, "--instance-arn", "arn:x"],
        env=env,
    )
    assert bad_arn.exit_code == 2 and bad_arn.output.startswith("error: ")
    revoked = runner.invoke(
        app, ["connect", "secrets", "revoke", secret_id, "--merchant", merchant], env=env
    )
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(
        app, ["connect", "secrets", "revoke", secret_id, "--merchant", merchant], env=env
    )
    assert again.exit_code == 2
