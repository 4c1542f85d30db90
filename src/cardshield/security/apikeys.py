"""Merchant API keys: secret keys for servers, publishable keys for hosted fields.

* Secret keys (``sk_live_`` + 43 base62 characters, 256 random bits) authenticate a
  merchant's backend. Publishable keys (``pk_live_`` + the same) are meant to be seen by
  browsers: they carry only the ``tokens:create`` scope and the origins allowed to embed
  hosted fields (their ``frame-ancestors``). On a secret key, ``tokens:create`` is what
  saves a card (``POST /v1/payment_methods`` turns a single-use token into a reusable
  one); ``tokens:read`` only reads.
* The plaintext key exists once, in the :class:`CreatedKey` returned at creation, held in a
  :class:`~cardshield.crypto.Secret` (masked ``repr``). The database keeps its SHA-256 and a
  short display prefix. Nothing here logs a key or puts one in an error message.
* :func:`authenticate` answers every unknown, malformed or revoked key with the same
  :class:`~cardshield.security.errors.InvalidApiKey` (401 ``invalid_api_key``);
  :func:`require_scope` raises :class:`~cardshield.security.errors.InsufficientScope` (403).
* Creating and revoking a key each append an audit entry in the caller's transaction.

Functions take a connection and do not commit: run them inside ``engine.begin()``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import Connection, insert, select, update

from cardshield.crypto import Secret
from cardshield.crypto.tokens import BASE62_ALPHABET, random_token
from cardshield.errors import InvalidRequestError
from cardshield.redaction.text import redact
from cardshield.security.audit import append as audit
from cardshield.security.errors import ApiKeyNotFound, InsufficientScope, InvalidApiKey
from cardshield.storage.schema import api_keys, merchants

KeyKind = Literal["secret", "publishable"]
PREFIXES: dict[str, str] = {"secret": "sk_live_", "publishable": "pk_live_"}
KEY_BITS = 256
KEY_WIDTH = 43  # base62 characters: 62**43 > 2**256
DISPLAY_CHARS = 4  # of the random part, shown in lists to tell keys apart

# Every scope a key can hold; a resource of the HTTP API that needs a new one adds it here.
SCOPES = frozenset(
    {
        "tokens:create",
        "tokens:read",
        "tokens:delete",
        "payments:read",
        "payments:write",
        "proxy:forward",
        "webhooks:manage",
    }
)
PUBLISHABLE_SCOPES = frozenset({"tokens:create"})

# last_used_at is refreshed at most this often, so authenticating is not a write per request.
TOUCH_INTERVAL = timedelta(minutes=1)

_KEY_SHAPE = re.compile(rf"^(?:sk|pk)_live_[0-9A-Za-z]{{{KEY_WIDTH}}}$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


@dataclass(frozen=True)
class ApiKeyInfo:
    """What is known about a key, without the key itself."""

    id: str
    merchant_id: str
    kind: KeyKind
    prefix: str
    scopes: frozenset[str]
    allowed_origins: tuple[str, ...]
    description: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key.reveal()`` is the plaintext, to be shown to its owner this once."""

    info: ApiKeyInfo
    key: Secret[str]


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256.

    A plain hash is enough, and the right tool, because the key is 256 random bits rather
    than something a person chose: nobody can search that space from a leaked hash, so a
    slow password hash would only cost CPU on every request, and an HMAC pepper would add
    key material to manage without adding strength. The hash is also what we look the key
    up by (a unique index), which a salted hash would not allow.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_key(kind: KeyKind) -> str:
    value = secrets.randbits(KEY_BITS)
    chars = []
    for _ in range(KEY_WIDTH):
        value, digit = divmod(value, 62)
        chars.append(BASE62_ALPHABET[digit])
    return PREFIXES[kind] + "".join(chars)


def _info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        merchant_id=row.merchant_id,
        kind=row.kind,
        prefix=row.prefix,
        scopes=frozenset(row.scopes),
        allowed_origins=tuple(row.allowed_origins),
        description=row.description,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case; https only, except for local development."""
    bad = InvalidRequestError(
        "Allowed origins must look like https://shop.example.com (no path).",
        param="allowed_origins",
    )
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        raise bad from None
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.query or parts.fragment:
        raise bad
    if parts.path not in ("", "/") or not host or "*" in host:
        raise bad
    netloc = f"[{host}]" if ":" in host else host
    local = netloc in _LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise bad
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")


def _check_request(
    kind: str, scopes: Iterable[str], allowed_origins: Iterable[str], description: str
) -> tuple[KeyKind, list[str], list[str], str]:
    if kind not in PREFIXES:
        raise InvalidRequestError("kind must be 'secret' or 'publishable'.", param="kind")
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidRequestError("A key needs at least one scope.", param="scopes")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise InvalidRequestError(
            f"Unknown scope {unknown[0][:40]!r}; known: {', '.join(sorted(SCOPES))}.",
            param="scopes",
        )
    origins = sorted({normalize_origin(o) for o in allowed_origins})
    if kind == "publishable":
        if set(wanted) - PUBLISHABLE_SCOPES:
            raise InvalidRequestError(
                "Publishable keys can only have the tokens:create scope.", param="scopes"
            )
        if not origins:
            raise InvalidRequestError(
                "A publishable key needs the origins allowed to embed hosted fields.",
                param="allowed_origins",
            )
    elif origins:
        raise InvalidRequestError(
            "Secret keys are for servers and take no allowed origins.", param="allowed_origins"
        )
    # Free text typed by an operator: mask any card number pasted into it.
    text = redact(description.strip())
    if len(text) > 200:
        raise InvalidRequestError("The description is limited to 200 characters.")
    checked: KeyKind = "secret" if kind == "secret" else "publishable"
    return checked, wanted, origins, text


def create_key(
    conn: Connection,
    *,
    now: datetime,
    merchant_id: str,
    kind: KeyKind,
    scopes: Iterable[str],
    allowed_origins: Iterable[str] = (),
    description: str = "",
    actor: str = "system",
) -> CreatedKey:
    """Create a key for ``merchant_id``; the plaintext is in the result and nowhere else."""
    checked_kind, wanted, origins, text = _check_request(kind, scopes, allowed_origins, description)
    exists = conn.execute(
        select(merchants.c.id).where(
            merchants.c.id == merchant_id, merchants.c.deleted_at.is_(None)
        )
    ).first()
    if exists is None:
        raise InvalidRequestError("No such merchant.", param="merchant_id")
    plaintext = _new_key(checked_kind)
    key_id = random_token(prefix="key_")
    prefix = plaintext[: len(PREFIXES[checked_kind]) + DISPLAY_CHARS]
    values = {
        "id": key_id,
        "merchant_id": merchant_id,
        "kind": checked_kind,
        "prefix": prefix,
        "key_hash": hash_key(plaintext),
        "scopes": wanted,
        "allowed_origins": origins,
        "description": text,
        "created_at": now,
        "last_used_at": None,
        "revoked_at": None,
    }
    conn.execute(insert(api_keys).values(**values))
    audit(
        conn,
        now=now,
        actor=actor,
        action="api_key.create",
        merchant_id=merchant_id,
        target=key_id,
        details={"kind": checked_kind, "prefix": prefix, "scopes": wanted, "origins": origins},
    )
    info = ApiKeyInfo(
        id=key_id,
        merchant_id=merchant_id,
        kind=checked_kind,
        prefix=prefix,
        scopes=frozenset(wanted),
        allowed_origins=tuple(origins),
        description=text,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    return CreatedKey(info=info, key=Secret(plaintext))


def authenticate(conn: Connection, presented: str, *, now: datetime) -> ApiKeyInfo:
    """The key ``presented`` belongs to; InvalidApiKey when unknown, malformed or revoked.

    The key is found by its hash, so the lookup's timing depends on a SHA-256 output, not
    on how much of a guessed key matches; the final comparison is constant-time as well.
    """
    digest = hash_key(presented)
    row = conn.execute(
        select(api_keys)
        .join(merchants, merchants.c.id == api_keys.c.merchant_id)
        .where(api_keys.c.key_hash == digest, merchants.c.deleted_at.is_(None))
    ).first()
    stored = row.key_hash if row is not None else hash_key("")
    matches = hmac.compare_digest(stored.encode("ascii"), digest.encode("ascii"))
    if row is None or not matches or row.revoked_at is not None:
        raise InvalidApiKey
    if not _KEY_SHAPE.match(presented) or not presented.startswith(PREFIXES[row.kind]):
        raise InvalidApiKey
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
        return replace(_info(row), last_used_at=now)
    return _info(row)


def require_scope(info: ApiKeyInfo, scope: str) -> None:
    """Raise InsufficientScope unless the key carries ``scope``."""
    if scope not in info.scopes:
        raise InsufficientScope(f"This API key does not have the {scope} scope.")


def revoke(
    conn: Connection, *, now: datetime, merchant_id: str, key_id: str, actor: str = "system"
) -> ApiKeyInfo:
    """Revoke a key of ``merchant_id`` (idempotent: a revoked key stays as it was)."""
    row = conn.execute(
        select(api_keys).where(api_keys.c.id == key_id, api_keys.c.merchant_id == merchant_id)
    ).first()
    if row is None:
        raise ApiKeyNotFound(param="key_id")
    if row.revoked_at is not None:
        return _info(row)
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
    audit(
        conn,
        now=now,
        actor=actor,
        action="api_key.revoke",
        merchant_id=merchant_id,
        target=key_id,
        details={"kind": row.kind, "prefix": row.prefix},
    )
    return replace(_info(row), revoked_at=now)


def list_keys(
    conn: Connection, *, merchant_id: str, include_revoked: bool = False
) -> list[ApiKeyInfo]:
    """The merchant's keys, oldest first."""
    query = select(api_keys).where(api_keys.c.merchant_id == merchant_id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    rows = conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id))
    return [_info(row) for row in rows]
