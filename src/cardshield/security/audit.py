"""The tamper-evident audit log: appending entries, and the hashes that bind them.

Every security-relevant action writes one entry with :func:`append`, inside the action's own
database transaction, so the entry exists exactly when the action happened. The hot path
takes no lock and reads no other row: it inserts one row holding the entry's content hash.
A row's sequence number comes from the database (a PostgreSQL sequence, the SQLite rowid),
so concurrent tokenizations never wait for each other here.

Linking the entries into a hash chain happens afterwards, in sequence order, in
:mod:`cardshield.security.audit_seal`; :mod:`cardshield.security.audit_verify` checks it.
The hashes, fixed forever because old entries must keep verifying:

* ``content_hash`` = HMAC-SHA256, under the :class:`AuditKey`, over the JSON array
  ``["cardshield.audit.v2", occurred_at, actor, merchant_id, action, target, outcome, details]``
  (``occurred_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``details`` the stored canonical JSON
  text); ``hash_version`` 2. A JSON array is unambiguous: no two field tuples share an
  encoding. Entries written before keyed hashes existed hold ``hash_version`` 1: plain SHA-256
  over the same array starting ``"cardshield.audit.v1"``. Anyone who can write the database
  can compute that one, so it is accepted only before the first keyed entry of the chain.
* ``chain_hash`` = SHA-256(prev_hash || seq || content_hash), binary: 32 + 8 (big-endian) + 32
  bytes; ``prev_hash`` is the previous entry's ``chain_hash``, :data:`GENESIS_HASH` first.
* a checkpoint signs ``b"cardshield.audit.checkpoint.v1\\0" || upto_seq || chain_hash``.

The audit key is never stored: it is the KMS's HMAC (its ``sign``) over a fixed label, so it
exists only where the KMS can be used. The process that opens the KMS binds it to its engine
(:func:`bind_key`, done by :func:`cardshield.runtime.open_runtime`) and :func:`append` finds it
on the connection; an engine without one writes version 1 entries, which the sealer refuses
once the chain holds keyed ones.

Entries hold masked data only: every string in ``details``, ``actor`` and ``target`` passes
through the card data redactor before it is hashed or written, whatever the caller passed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert

from cardshield.crypto.secret import Secret
from cardshield.redaction.scrub import scrub
from cardshield.redaction.text import redact
from cardshield.storage.schema import audit_log

GENESIS_HASH = hashlib.sha256(b"cardshield.audit.genesis.v1").hexdigest()
CONTENT_VERSION = "cardshield.audit.v1"
KEYED_CONTENT_VERSION = "cardshield.audit.v2"
# ``audit_log.hash_version``: how ``content_hash`` was computed.
HASH_UNKEYED = 1  # SHA-256: entries written before the audit key existed
HASH_KEYED = 2  # HMAC-SHA256 under the audit key
# What the KMS signs to give the audit key; no other message it signs starts this way.
_KEY_LABEL = b"cardshield.audit.entry-key.v1\x00"
_KEY_OPTION = "cardshield_audit_key"  # the engine execution option that carries the key
CHECKPOINT_DOMAIN = b"cardshield.audit.checkpoint.v1\x00"
# The action and actor of the placeholder the sealer writes for a sequence number that no
# committed entry will ever use (its transaction rolled back).
GAP_ACTION = "audit.gap"
SEALER_ACTOR = "cardshield.audit.sealer"
DEFAULT_CHECKPOINT_EVERY = 1000

# Column widths from the schema; PostgreSQL enforces them, SQLite would not, so we do.
_LIMITS = {"actor": 128, "merchant_id": 64, "action": 64, "target": 128, "outcome": 16}


class Signer(Protocol):
    """What the audit log needs from a KMS provider: sign and verify checkpoints."""

    def sign(self, data: bytes) -> bytes: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...


class AuditKey:
    """The key entries' content hashes are MACs under; its ``repr`` shows nothing of it."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("an audit key must be at least 16 bytes")
        self._key = Secret(bytes(key))

    @classmethod
    def derive(cls, signer: Signer) -> AuditKey:
        """The deployment's audit key: the KMS signing key's HMAC over a fixed label."""
        return cls(signer.sign(_KEY_LABEL))

    def mac(self, message: bytes) -> str:
        return hmac.new(self._key.reveal(), message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "AuditKey(<hidden>)"


def bind_key(engine: Engine, signer: Signer) -> AuditKey:
    """Key every entry appended through ``engine`` from now on; returns the key."""
    key = AuditKey.derive(signer)
    engine.update_execution_options(**{_KEY_OPTION: key})
    return key


def bound_key(conn: Connection) -> AuditKey | None:
    """The audit key bound to ``conn``'s engine, if any."""
    key = conn.get_execution_options().get(_KEY_OPTION)
    return key if isinstance(key, AuditKey) else None


def format_time(at: datetime) -> str:
    """The fixed text form of a timestamp inside the content hash."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Redacted, key-sorted, compact JSON: the exact text stored and hashed."""
    cleaned = scrub(dict(details or {}))
    try:
        return json.dumps(
            cleaned, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be JSON with string keys: {exc}") from None


def content_hash(
    *,
    occurred_at: datetime,
    actor: str,
    merchant_id: str | None,
    action: str,
    target: str | None,
    outcome: str,
    details: str,
    key: AuditKey | None = None,
) -> str:
    """The hex HMAC-SHA256 under ``key`` of one entry's content (version 2), or without a key
    its plain SHA-256 (version 1); ``details`` is the stored canonical JSON text."""
    fields = [
        CONTENT_VERSION if key is None else KEYED_CONTENT_VERSION,
        format_time(occurred_at),
        actor,
        merchant_id,
        action,
        target,
        outcome,
        details,
    ]
    encoded = json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(encoded).hexdigest() if key is None else key.mac(encoded)


def row_content_hash(row: Any, key: AuditKey | None = None) -> str | None:
    """Recompute the content hash of a stored ``audit_log`` row the way its ``hash_version``
    says; None (never a stored hash) for a version that does not exist, or a keyed row and
    no ``key``."""
    if row.hash_version not in (HASH_UNKEYED, HASH_KEYED):
        return None
    if row.hash_version == HASH_KEYED and key is None:
        return None
    return content_hash(
        occurred_at=row.occurred_at,
        actor=row.actor,
        merchant_id=row.merchant_id,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        details=row.details,
        key=key if row.hash_version == HASH_KEYED else None,
    )


def is_digest(value: str | None) -> bool:
    """True for a 64-character hex SHA-256 digest."""
    return _digest_bytes(value) is not None


def _digest_bytes(hex_digest: str | None) -> bytes | None:
    if hex_digest is None or len(hex_digest) != 64:
        return None
    try:
        return bytes.fromhex(hex_digest)
    except ValueError:
        return None


def chain_hash(prev_hash: str | None, seq: int, content: str | None) -> str | None:
    """SHA-256(prev || seq || content); None when a stored input is not a valid digest
    (a tampered column), which never equals a stored chain hash."""
    prev, body = _digest_bytes(prev_hash), _digest_bytes(content)
    if prev is None or body is None or not 0 <= seq < 2**63:
        return None
    return hashlib.sha256(prev + seq.to_bytes(8, "big") + body).hexdigest()


def checkpoint_message(upto_seq: int, chain: str) -> bytes:
    """The bytes a checkpoint signature covers."""
    digest = _digest_bytes(chain)
    if digest is None:
        raise ValueError("checkpoint chain hash must be a hex SHA-256 digest")
    return CHECKPOINT_DOMAIN + upto_seq.to_bytes(8, "big") + digest


def _checked(name: str, value: str | None) -> str | None:
    if value is not None and len(value) > _LIMITS[name]:
        raise ValueError(f"audit {name} is longer than {_LIMITS[name]} characters")
    return value


def entry_values(
    *,
    now: datetime,
    actor: str,
    action: str,
    outcome: str,
    merchant_id: str | None,
    target: str | None,
    details: Mapping[str, Any] | None,
    key: AuditKey | None = None,
) -> dict[str, Any]:
    """The column values of a new entry (redacted, validated, hashed under ``key``, or the
    legacy way without one), without ``seq``."""
    values: dict[str, Any] = {
        "occurred_at": now.astimezone(UTC) if now.tzinfo is not None else now,
        "actor": _checked("actor", redact(actor)),
        "merchant_id": _checked("merchant_id", merchant_id),
        "action": _checked("action", action),
        "target": _checked("target", None if target is None else redact(target)),
        "outcome": _checked("outcome", outcome),
        "details": canonical_details(details),
    }
    if not values["actor"] or not values["action"] or not values["outcome"]:
        raise ValueError("audit actor, action and outcome must not be empty")
    values["content_hash"] = content_hash(**values, key=key)
    values["hash_version"] = HASH_UNKEYED if key is None else HASH_KEYED
    return values


_INSERT = insert(audit_log)


def append(
    conn: Connection,
    *,
    now: datetime,
    actor: str,
    action: str,
    outcome: str = "success",
    merchant_id: str | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Write one audit entry in the caller's transaction and return its sequence number.

    Does not commit: the entry commits or rolls back with the action it records. One
    INSERT, no lock, no read of other entries. ``details`` must be JSON-serializable; its
    strings are redacted (a PAN becomes its masked form) before anything is hashed or stored.
    The content hash is keyed with the audit key bound to the engine (:func:`bind_key`).
    """
    values = entry_values(
        now=now,
        actor=actor,
        action=action,
        outcome=outcome,
        merchant_id=merchant_id,
        target=target,
        details=details,
        key=bound_key(conn),
    )
    result = conn.execute(_INSERT, values)  # one compiled statement, parameters apart
    seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if seq is None:  # pragma: no cover - both drivers always report the new key
        raise RuntimeError("the database did not report the audit entry's sequence number")
    return int(seq)
