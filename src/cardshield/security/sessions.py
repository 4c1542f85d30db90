"""Console sessions, kept in the database so that any node can serve any request.

* The cookie holds 256 random bits; the table holds their SHA-256 only, so reading the
  database does not give a usable session.
* A session has a stage: ``mfa`` or ``enroll`` after the password (good for 10 minutes and
  for the second-factor pages only), then ``active``. Reaching ``active`` issues a new
  session id (no fixation across the MFA step).
* An active session ends after 15 minutes without a request (PCI DSS 8.2.8) and after 12
  hours in any case. Ending is checked on every request, with the time passed in.
* Each session has its own CSRF token (synchronizer pattern) that every console form carries.
* A session holds at most one security-key (WebAuthn) challenge, for up to 5 minutes; the
  first answer takes it (:func:`take_challenge`), so no answer can be replayed.
* Sensitive actions need a re-authentication (password and code) within the last 5 minutes
  (:func:`recently_confirmed`); signing in counts as one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, delete, insert, select, update

from cardshield.crypto import Secret
from cardshield.security.operators import Operator, operator_from_row, revoke_sessions
from cardshield.storage.schema import operator_sessions, operators

IDLE_TIMEOUT = timedelta(minutes=15)
ABSOLUTE_LIFETIME = timedelta(hours=12)
PENDING_LIFETIME = timedelta(minutes=10)
REAUTH_WINDOW = timedelta(minutes=5)
CHALLENGE_LIFETIME = timedelta(minutes=5)

Stage = Literal["mfa", "enroll", "active"]


@dataclass(frozen=True)
class Session:
    id: str  # the hash stored in the table, never the cookie value
    operator: Operator
    stage: Stage
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    reauth_at: datetime | None
    pending_totp: bytes | None

    @property
    def active(self) -> bool:
        return self.stage == "active"

    def csrf_ok(self, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(self.csrf_token.encode(), presented.encode("utf-8", "replace"))


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start(
    conn: Connection,
    *,
    now: datetime,
    operator_id: str,
    stage: Stage,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Secret[str]:
    """Open a session and return its cookie value (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    lifetime = ABSOLUTE_LIFETIME if stage == "active" else PENDING_LIFETIME
    conn.execute(
        insert(operator_sessions).values(
            id=session_id(token),
            operator_id=operator_id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            reauth_at=now if stage == "active" else None,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    return Secret(token)


def load(
    conn: Connection, token: str | None, *, now: datetime, touch: bool = True
) -> Session | None:
    """The live session for a cookie value, or None (unknown, ended, idle, or account off).

    An ended session is deleted on sight. ``touch`` records this request as activity.
    """
    if not token:
        return None
    sid = session_id(token)
    row = conn.execute(
        select(operator_sessions, operators)
        .join(operators, operators.c.id == operator_sessions.c.operator_id)
        .where(operator_sessions.c.id == sid)
    ).first()
    if row is None:
        return None
    mapping = row._mapping
    idle_limit = (
        IDLE_TIMEOUT if mapping[operator_sessions.c.stage] == "active" else PENDING_LIFETIME
    )
    ended = (
        now >= mapping[operator_sessions.c.expires_at]
        or now - mapping[operator_sessions.c.last_seen_at] >= idle_limit
        or mapping[operators.c.disabled_at] is not None
    )
    if ended:
        conn.execute(delete(operator_sessions).where(operator_sessions.c.id == sid))
        return None
    if touch:
        conn.execute(
            update(operator_sessions).where(operator_sessions.c.id == sid).values(last_seen_at=now)
        )
    operator = operator_from_row(_OperatorRow(mapping))
    return Session(
        id=sid,
        operator=operator,
        stage=mapping[operator_sessions.c.stage],
        csrf_token=mapping[operator_sessions.c.csrf_token],
        created_at=mapping[operator_sessions.c.created_at],
        last_seen_at=now if touch else mapping[operator_sessions.c.last_seen_at],
        expires_at=mapping[operator_sessions.c.expires_at],
        reauth_at=mapping[operator_sessions.c.reauth_at],
        pending_totp=mapping[operator_sessions.c.pending_totp],
    )


class _OperatorRow:
    """Attribute access to the operator columns of a joined row (both tables have ``id``)."""

    def __init__(self, mapping: object) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> object:
        return self._mapping[operators.c[name]]  # type: ignore[index]


def end(conn: Connection, session: Session) -> None:
    conn.execute(delete(operator_sessions).where(operator_sessions.c.id == session.id))


def end_all(conn: Connection, operator_id: str) -> int:
    """Sign the operator out everywhere."""
    return revoke_sessions(conn, operator_id)


def set_pending_totp(conn: Connection, session: Session, wrapped: bytes | None) -> None:
    conn.execute(
        update(operator_sessions)
        .where(operator_sessions.c.id == session.id)
        .values(pending_totp=wrapped)
    )


def set_challenge(conn: Connection, session: Session, challenge: bytes, *, now: datetime) -> None:
    """Keep a security-key challenge for this session (replacing any earlier one)."""
    conn.execute(
        update(operator_sessions)
        .where(operator_sessions.c.id == session.id)
        .values(webauthn_challenge=challenge, webauthn_challenge_at=now)
    )


def take_challenge(conn: Connection, session: Session, *, now: datetime) -> bytes | None:
    """The session's outstanding challenge, cleared in the same step; None if there is none,
    it is older than CHALLENGE_LIFETIME, or a concurrent request took it first."""
    row = conn.execute(
        select(
            operator_sessions.c.webauthn_challenge, operator_sessions.c.webauthn_challenge_at
        ).where(operator_sessions.c.id == session.id)
    ).first()
    if row is None or row.webauthn_challenge is None or row.webauthn_challenge_at is None:
        return None
    taken = conn.execute(
        update(operator_sessions)
        .where(
            operator_sessions.c.id == session.id,
            operator_sessions.c.webauthn_challenge == row.webauthn_challenge,
        )
        .values(webauthn_challenge=None, webauthn_challenge_at=None)
    )
    if taken.rowcount != 1 or now - row.webauthn_challenge_at >= CHALLENGE_LIFETIME:
        return None
    return bytes(row.webauthn_challenge)


def confirm(conn: Connection, session: Session, *, now: datetime) -> None:
    """Record a successful re-authentication."""
    conn.execute(
        update(operator_sessions).where(operator_sessions.c.id == session.id).values(reauth_at=now)
    )


def recently_confirmed(session: Session, *, now: datetime) -> bool:
    return session.reauth_at is not None and now - session.reauth_at < REAUTH_WINDOW


def count_for(conn: Connection, operator_id: str) -> int:
    rows = conn.execute(
        select(operator_sessions.c.id).where(operator_sessions.c.operator_id == operator_id)
    )
    return len(rows.all())


def purge(conn: Connection, *, now: datetime) -> int:
    """Delete sessions that can no longer be used (idle or past their lifetime)."""
    result = conn.execute(
        delete(operator_sessions).where(
            (operator_sessions.c.expires_at <= now)
            | (operator_sessions.c.last_seen_at <= now - IDLE_TIMEOUT)
        )
    )
    return int(result.rowcount or 0)
