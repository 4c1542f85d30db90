"""Basic credentials for Twilio's Generic Pay Connector, one merchant each.

Twilio's console takes a username and a password for a Generic Pay Connector and sends
them with every request as HTTP Basic authentication
(https://www.twilio.com/docs/voice/twiml/pay/generic-pay-connector). The username says whose
credential it is (and so which merchant the card data belongs to); the password is 256
random bits, shown once by :func:`create_credential` and kept only as its SHA-256, for the
reason :func:`cardshield.security.apikeys.hash_key` gives: a slow password hash protects
guessable secrets, and this one cannot be guessed.

Unknown usernames, wrong passwords, revoked credentials and deleted merchants all fail the
same way (:class:`PayConnectorAuthFailed`, 401), so a caller learns nothing about which
part was wrong. Functions take a connection and do not commit: run them inside
``engine.begin()``; creating and revoking each append an audit entry there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from cardshield.crypto import Secret
from cardshield.crypto.tokens import BASE62_ALPHABET, random_token
from cardshield.errors import CardshieldError, InvalidRequestError
from cardshield.redaction.text import redact
from cardshield.security.audit import append as audit
from cardshield.storage.schema import merchants
from cardshield.storage.schema import pay_connector_credentials as C

USERNAME_PREFIX = "pcu_"
PASSWORD_PREFIX = "pcp_"  # noqa: S105 - the prefix of generated passwords, not one
PASSWORD_BITS = 256
PASSWORD_WIDTH = 43  # base62 characters: 62**43 > 2**256
MAX_USERNAME = 64
# last_used_at is refreshed at most this often, so authenticating is not a write per request.
TOUCH_INTERVAL = timedelta(minutes=1)
# Compared against when the username is unknown, so both paths do the same work.
_NO_HASH = hashlib.sha256(b"cardshield|pay-connector|no-such-credential").hexdigest()


class PayConnectorAuthFailed(CardshieldError):
    """Missing, malformed, unknown, wrong or revoked credentials (never says which)."""

    type = "authentication_error"
    code = "pay_connector_auth_failed"
    http_status = 401
    default_message = "Invalid or missing pay connector credentials (HTTP Basic)."

    def __init__(self) -> None:
        super().__init__()  # nothing about what was presented reaches the response


class CredentialNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such pay connector credential for this merchant."


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A credential without its password."""

    username: str
    merchant_id: str
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreatedCredential:
    """A new credential: ``password.reveal()`` is shown to its owner this once."""

    info: CredentialInfo
    password: Secret[str]


def hash_password(password: str) -> str:
    """Hex SHA-256: right for a 256-bit random secret (see the module docstring)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def _new_password() -> str:
    value = secrets.randbits(PASSWORD_BITS)
    chars = []
    for _ in range(PASSWORD_WIDTH):
        value, digit = divmod(value, 62)
        chars.append(BASE62_ALPHABET[digit])
    return PASSWORD_PREFIX + "".join(chars)


def _info(row: Any) -> CredentialInfo:
    return CredentialInfo(
        username=row.username,
        merchant_id=row.merchant_id,
        description=row.description,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def create_credential(
    conn: Connection, *, now: datetime, merchant_id: str, description: str = "", actor: str
) -> CreatedCredential:
    """A new credential for ``merchant_id``; the password is in the result and nowhere else."""
    exists = conn.execute(
        select(merchants.c.id).where(
            merchants.c.id == merchant_id, merchants.c.deleted_at.is_(None)
        )
    ).first()
    if exists is None:
        raise InvalidRequestError("No such merchant.", param="merchant_id")
    text = redact(description.strip())  # typed by an operator: mask a pasted card number
    if len(text) > 200:
        raise InvalidRequestError("The description is limited to 200 characters.")
    username = random_token(USERNAME_PREFIX)
    password = _new_password()
    values = {
        "username": username,
        "merchant_id": merchant_id,
        "password_hash": hash_password(password),
        "description": text,
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }
    conn.execute(insert(C).values(**values))
    audit(
        conn,
        now=now,
        actor=actor,
        action="pay_connector_credential.create",
        merchant_id=merchant_id,
        target=username,
    )
    info = CredentialInfo(username, merchant_id, text, now, None, None)
    return CreatedCredential(info=info, password=Secret(password))


def list_credentials(conn: Connection, *, merchant_id: str) -> list[CredentialInfo]:
    """The merchant's credentials, revoked ones included, oldest first."""
    rows = conn.execute(
        select(C).where(C.c.merchant_id == merchant_id).order_by(C.c.created_at, C.c.username)
    )
    return [_info(row) for row in rows]


def revoke_credential(
    conn: Connection, *, now: datetime, merchant_id: str, username: str, actor: str
) -> CredentialInfo:
    """Revoke a credential of ``merchant_id``; revoking twice leaves it as it was."""
    row = conn.execute(
        select(C).where(C.c.username == username, C.c.merchant_id == merchant_id)
    ).first()
    if row is None:
        raise CredentialNotFound(param="username")
    if row.revoked_at is not None:
        return _info(row)
    conn.execute(update(C).where(C.c.username == username).values(revoked_at=now))
    audit(
        conn,
        now=now,
        actor=actor,
        action="pay_connector_credential.revoke",
        merchant_id=merchant_id,
        target=username,
    )
    return replace(_info(row), revoked_at=now)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an ``Authorization: Basic`` header; None when absent or
    malformed."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip() or len(value) > 512:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not password or len(username) > MAX_USERNAME:
        return None
    return username, password


def authenticate(
    conn: Connection, username: str, password: str, *, now: datetime
) -> CredentialInfo:
    """The active credential ``username``/``password`` name; PayConnectorAuthFailed else.

    The row is found by username (not secret); the password's hash is then compared in
    constant time, against a fixed hash when there is no row, so timing tells nothing.
    """
    row = conn.execute(
        select(C)
        .join(merchants, merchants.c.id == C.c.merchant_id)
        .where(C.c.username == username, merchants.c.deleted_at.is_(None))
    ).first()
    stored = row.password_hash if row is not None else _NO_HASH
    matches = hmac.compare_digest(stored.encode("ascii"), hash_password(password).encode("ascii"))
    if row is None or not matches or row.revoked_at is not None:
        raise PayConnectorAuthFailed
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        conn.execute(update(C).where(C.c.username == username).values(last_used_at=now))
    return _info(row)


def known_merchant(conn: Connection, username: str) -> str | None:
    """The merchant a username belongs to (for the audit entry of a failed attempt)."""
    row = conn.execute(select(C.c.merchant_id).where(C.c.username == username)).first()
    return None if row is None else str(row.merchant_id)
