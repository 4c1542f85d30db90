"""Console sessions: idle and absolute expiry, pending stage, CSRF token, sign-out everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cardshield.crypto import Secret
from cardshield.crypto.kms import KMSProvider
from cardshield.security import sessions
from cardshield.storage.schema import operator_sessions
from tests.unit.security.conftest import NOW
from tests.unit.security.operator_support import PASSWORD, accounts, clear, shared_database

migrated = shared_database()


@pytest.fixture
def engine(migrated: Engine) -> Iterator[Engine]:
    yield migrated
    clear(migrated)


def _operator(engine: Engine, kms: KMSProvider, name: str = "sam") -> str:
    ops, _ = accounts(engine, kms)
    return ops.create(now=NOW, username=name, password=Secret(PASSWORD), role="auditor").id


def test_idle_session_expires_after_15_minutes(engine: Engine, kms: KMSProvider) -> None:
    op = _operator(engine, kms)
    with engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op, stage="active").reveal()
    at = NOW
    # Activity keeps it alive: each request within 15 minutes of the previous one.
    for _ in range(4):
        at += sessions.IDLE_TIMEOUT - timedelta(seconds=1)
        with engine.begin() as conn:
            live = sessions.load(conn, token, now=at)
        assert live is not None and live.operator.id == op and live.active
    with engine.begin() as conn:
        assert sessions.load(conn, token, now=at + sessions.IDLE_TIMEOUT) is None
    with engine.begin() as conn:  # deleted on sight: it does not come back
        assert sessions.load(conn, token, now=at) is None
        assert conn.execute(select(operator_sessions)).first() is None


def test_absolute_lifetime_and_untouched_reads(engine: Engine, kms: KMSProvider) -> None:
    op = _operator(engine, kms)
    with engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op, stage="active").reveal()
    at = NOW
    while at + timedelta(minutes=10) < NOW + sessions.ABSOLUTE_LIFETIME:
        at += timedelta(minutes=10)
        with engine.begin() as conn:
            assert sessions.load(conn, token, now=at) is not None
    with engine.begin() as conn:
        assert sessions.load(conn, token, now=NOW + sessions.ABSOLUTE_LIFETIME) is None
    with engine.begin() as conn:
        other = sessions.start(conn, now=NOW, operator_id=op, stage="active").reveal()
    with engine.begin() as conn:  # a read that does not touch leaves the idle clock running
        assert sessions.load(conn, other, now=NOW + timedelta(minutes=10), touch=False)
    with engine.begin() as conn:
        assert sessions.load(conn, other, now=NOW + timedelta(minutes=16)) is None


def test_pending_session_is_short_and_not_active(engine: Engine, kms: KMSProvider) -> None:
    op = _operator(engine, kms)
    with engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op, stage="mfa").reveal()
        pending = sessions.load(conn, token, now=NOW)
    assert pending is not None and not pending.active and pending.reauth_at is None
    with engine.begin() as conn:
        assert sessions.load(conn, token, now=NOW + sessions.PENDING_LIFETIME) is None


def test_token_is_stored_hashed_csrf_and_reauth(engine: Engine, kms: KMSProvider) -> None:
    op = _operator(engine, kms)
    with engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op, stage="active").reveal()
        live = sessions.load(conn, token, now=NOW)
        stored = conn.execute(select(operator_sessions.c.id)).scalar_one()
    assert live is not None and stored == sessions.session_id(token) and token not in stored
    assert live.csrf_ok(live.csrf_token)
    assert not live.csrf_ok("") and not live.csrf_ok(None) and not live.csrf_ok(token)
    assert sessions.recently_confirmed(live, now=NOW + timedelta(minutes=4))
    assert not sessions.recently_confirmed(live, now=NOW + sessions.REAUTH_WINDOW)
    later = NOW + timedelta(minutes=9)
    with engine.begin() as conn:
        sessions.confirm(conn, live, now=later)
        again = sessions.load(conn, token, now=later)
    assert again is not None and sessions.recently_confirmed(again, now=later)


def test_sign_out_everywhere_and_disabled_operator(engine: Engine, kms: KMSProvider) -> None:
    op = _operator(engine, kms)
    other = _operator(engine, kms, "tom")
    with engine.begin() as conn:
        mine = [sessions.start(conn, now=NOW, operator_id=op, stage="active") for _ in range(3)]
        theirs = sessions.start(conn, now=NOW, operator_id=other, stage="active")
        assert sessions.end_all(conn, op) == 3
        assert all(sessions.load(conn, t.reveal(), now=NOW) is None for t in mine)
        assert sessions.load(conn, theirs.reveal(), now=NOW) is not None
    ops, _ = accounts(engine, kms)
    ops.disable(now=NOW, operator_id=other, actor="test")
    with engine.begin() as conn:
        # A session written after the disable (a sign-in racing it on another node).
        again = sessions.start(conn, now=NOW, operator_id=other, stage="active").reveal()
        assert sessions.load(conn, again, now=NOW) is None
        assert sessions.load(conn, "", now=NOW) is None
        assert sessions.load(conn, "made-up", now=NOW) is None
        stale = sessions.start(conn, now=NOW, operator_id=op, stage="active")
        assert sessions.purge(conn, now=NOW + timedelta(hours=1)) == 1
        assert sessions.load(conn, stale.reveal(), now=NOW) is None
