"""Merchant API keys: shown once, stored as a hash, scoped, revocable, audited."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import make_url

from cardshield.crypto.kms import KMSProvider
from cardshield.errors import InvalidRequestError
from cardshield.security import (
    ApiKeyNotFound,
    InsufficientScope,
    InvalidApiKey,
    authenticate,
    create_key,
    list_keys,
    require_scope,
    revoke,
    seal,
    verify,
)
from cardshield.security.apikeys import (
    PREFIXES,
    TOUCH_INTERVAL,
    ApiKeyInfo,
    CreatedKey,
    hash_key,
)
from cardshield.storage.schema import api_keys, audit_log
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.security.conftest import LATER, NOW

SHOP = "https://shop.example.com"


def _secret(engine: Engine, merchant: str = "m_1", **kw: object) -> CreatedKey:
    params: dict[str, object] = {"scopes": ["tokens:create", "payments:write"], **kw}
    with engine.begin() as conn:
        return create_key(conn, now=NOW, merchant_id=merchant, kind="secret", **params)  # type: ignore[arg-type]


def _auth(engine: Engine, key: str, at: datetime = NOW) -> ApiKeyInfo:
    with engine.begin() as conn:
        return authenticate(conn, key, now=at)


def test_secret_key_is_shown_once_and_stored_as_a_hash(engine: Engine) -> None:
    created = _secret(engine, actor="operator:alice", description="checkout server")
    key = created.key.reveal()
    assert re.fullmatch(r"sk_live_[0-9A-Za-z]{43}", key)
    assert key[8:] not in repr(created) and key[8:] not in f"{created} {created.key}"
    assert created.info.prefix == key[:12] and created.info.kind == "secret"
    with engine.connect() as conn:
        row = conn.execute(select(api_keys)).one()
        entry = conn.execute(select(audit_log)).one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() != key
    assert key not in str(tuple(row)) and key[8:] not in str(tuple(row))
    assert sorted(row.scopes) == ["payments:write", "tokens:create"]
    # The audit entry was written with the key, in its transaction.
    assert (entry.action, entry.actor, entry.target) == (
        "api_key.create",
        "operator:alice",
        created.info.id,
    )
    assert key[8:] not in entry.details and created.info.prefix in entry.details
    two = _secret(engine)
    assert two.key.reveal() != key and two.info.id != created.info.id


def test_authenticate_scopes_and_revoke(engine: Engine, kms: KMSProvider) -> None:
    created = _secret(engine)
    key = created.key.reveal()
    info = _auth(engine, key)
    assert (info.id, info.merchant_id, info.last_used_at) == (created.info.id, "m_1", NOW)
    require_scope(info, "payments:write")
    with pytest.raises(InsufficientScope) as denied:
        require_scope(info, "proxy:forward")
    assert (denied.value.code, denied.value.http_status) == ("insufficient_scope", 403)

    # last_used_at is refreshed only once per interval.
    assert _auth(engine, key, NOW + TOUCH_INTERVAL / 2).last_used_at == NOW
    assert _auth(engine, key, LATER + TOUCH_INTERVAL).last_used_at == LATER + TOUCH_INTERVAL

    body = key[len(PREFIXES["secret"]) :]
    wrong = [
        key[:-1] + ("A" if key[-1] != "A" else "B"),  # one character off
        "pk_live_" + body,  # right secret, wrong kind
        key + "x",
        "",
        "sk_live_",
        f"Bearer {key}",
    ]
    for presented in wrong:
        with pytest.raises(InvalidApiKey) as exc:
            _auth(engine, presented)
        assert (exc.value.code, exc.value.http_status) == ("invalid_api_key", 401)
        assert body not in str(exc.value.to_dict()) and body not in repr(exc.value)

    with engine.begin() as conn:
        revoked = revoke(conn, now=LATER, merchant_id="m_1", key_id=created.info.id)
        assert revoked.revoked_at == LATER and not revoked.active
        again = revoke(conn, now=LATER + timedelta(hours=1), merchant_id="m_1", key_id=info.id)
        assert again.revoked_at == LATER  # idempotent, one audit entry
        with pytest.raises(ApiKeyNotFound):
            revoke(conn, now=LATER, merchant_id="m_2", key_id=created.info.id)
    with pytest.raises(InvalidApiKey):
        _auth(engine, key, LATER)
    with engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars()
        assert list(actions) == ["api_key.create", "api_key.revoke"]
    seal(engine, kms, now=LATER)
    assert verify(engine, kms).ok


def test_a_failed_create_leaves_neither_key_nor_audit_entry(engine: Engine) -> None:
    class Boom(Exception):
        pass

    def create_then_fail() -> None:
        with engine.begin() as conn:
            create_key(conn, now=NOW, merchant_id="m_1", kind="secret", scopes=["tokens:read"])
            raise Boom

    with pytest.raises(Boom):
        create_then_fail()
    with engine.connect() as conn:
        assert conn.execute(select(api_keys)).all() == []
        assert conn.execute(select(audit_log)).all() == []


def test_publishable_keys_are_for_hosted_fields_only(engine: Engine) -> None:
    with engine.begin() as conn:
        created = create_key(
            conn,
            now=NOW,
            merchant_id="m_2",
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=["https://Shop.Example.com/", "http://localhost:5173", SHOP],
        )
    assert created.key.reveal().startswith("pk_live_")
    assert created.info.allowed_origins == ("http://localhost:5173", SHOP)
    info = _auth(engine, created.key.reveal())
    assert info.scopes == frozenset({"tokens:create"}) and info.kind == "publishable"
    with pytest.raises(InsufficientScope):
        require_scope(info, "tokens:read")

    bad_requests = [
        {"kind": "publishable", "scopes": ["tokens:create", "tokens:read"], "origins": [SHOP]},
        {"kind": "publishable", "scopes": ["tokens:create"], "origins": []},
        {"kind": "publishable", "scopes": ["tokens:create"], "origins": ["http://shop.example"]},
        {"kind": "publishable", "scopes": ["tokens:create"], "origins": [SHOP + "/pay"]},
        {"kind": "publishable", "scopes": ["tokens:create"], "origins": ["https://*.example"]},
        {"kind": "secret", "scopes": ["tokens:create"], "origins": [SHOP]},
        {"kind": "secret", "scopes": [], "origins": []},
        {"kind": "secret", "scopes": ["token:create"], "origins": []},
        {"kind": "restricted", "scopes": ["tokens:create"], "origins": []},
    ]
    for req in bad_requests:
        with pytest.raises(InvalidRequestError), engine.begin() as conn:
            create_key(
                conn,
                now=NOW,
                merchant_id="m_2",
                kind=req["kind"],  # type: ignore[arg-type]
                scopes=req["scopes"],
                allowed_origins=req["origins"],
            )
    with pytest.raises(InvalidRequestError, match="No such merchant"):
        _secret(engine, merchant="m_404")


def test_list_keys_per_merchant(engine: Engine) -> None:
    a, b = _secret(engine), _secret(engine, description=f"pasted {CANARY_PAN} by mistake")
    other = _secret(engine, merchant="m_2")
    with engine.begin() as conn:
        revoke(conn, now=LATER, merchant_id="m_1", key_id=a.info.id)
        active = list_keys(conn, merchant_id="m_1")
        every = list_keys(conn, merchant_id="m_1", include_revoked=True)
        theirs = list_keys(conn, merchant_id="m_2")
    assert [k.id for k in active] == [b.info.id]
    assert {k.id for k in every} == {a.info.id, b.info.id}
    assert [k.id for k in theirs] == [other.info.id]
    assert_no_card_data(b.info.description)
    assert "424242******4242" in active[0].description


def test_plaintext_key_never_reaches_the_database_or_logs(
    engine: Engine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # log every statement
        try:
            keys = [_secret(engine) for _ in range(3)]
            for created in keys:
                _auth(engine, created.key.reveal())
            plain = keys[0].key.reveal()
            # A different last character: "0" alone would be the key itself one time in ~60.
            tampered = plain[:-1] + ("1" if plain.endswith("0") else "0")
            with pytest.raises(InvalidApiKey):
                _auth(engine, tampered)
        finally:
            logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    bodies = [k.key.reveal()[8:] for k in keys]
    # The capture saw the statements and their parameters: the hash, never the key.
    assert "INSERT INTO api_keys" in caplog.text
    assert hash_key(keys[0].key.reveal()) in caplog.text
    dump = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            dump += [repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    for body in bodies:
        assert body not in caplog.text
        assert all(body not in line for line in dump)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        db = Path(make_url(database_url).database or "")
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        assert b"api_keys" in raw
        for body in bodies:
            assert body.encode() not in raw
