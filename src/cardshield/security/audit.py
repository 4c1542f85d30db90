"""The tamper-evident audit log: appending entries, and the hashes that bind them.

Every security-relevant action writes one entry with :func:`append`, inside the action's own
database transaction, so the entry exists exactly when the action happened. The hot path
takes no lock and reads no other row: it inserts one row holding the entry's content hash.
A row's sequence number comes from the database (a PostgreSQL sequence, the SQLite rowid),
so concurrent tokenizations never wait for each other here.

Linking the entries into a hash chain happens afterwards, in sequence order, in
:mod:`cardshield.security.audit_seal`; :mod:`cardshield.security.audit_verify` checks it.
The hashes, fixed forever because old entries must keep verifying:

* ``content_hash`` = SHA-256 over the JSON array
  ``["cardshield.audit.v1", occurred_at, actor, merchant_id, action, target, outcome, details]``
  (``occurred_at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``details`` the stored canonical JSON
  text). A JSON array is unambiguous: no two field tuples share an encoding.
* ``chain_hash`` = SHA-256(prev_hash || seq || content_hash), binary: 32 + 8 (big-endian) + 32
  bytes; ``prev_hash`` is the previous entry's ``chain_hash``, :data:`GENESIS_HASH` first.
* a checkpoint signs ``b"cardshield.audit.checkpoint.v1\\0" || upto_seq || chain_hash``.

Entries hold masked data only: every string in ``details``, ``actor`` and ``target`` passes
through the card data redactor before it is hashed or written, whatever the caller passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert

from cardshield.redaction.logging import redact_value
from cardshield.redaction.text import redact
from cardshield.storage.schema import audit_log

GENESIS_HASH = hashlib.sha256(b"cardshield.audit.genesis.v1").hexdigest()
CONTENT_VERSION = "cardshield.audit.v1"
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


def format_time(at: datetime) -> str:
    """The fixed text form of a timestamp inside the content hash."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Redacted, key-sorted, compact JSON: the exact text stored and hashed."""
    cleaned = redact_value(dict(details or {}))
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
) -> str:
    """SHA-256 (hex) of one entry's content; ``details`` is the stored canonical JSON text."""
    fields = [
        CONTENT_VERSION,
        format_time(occurred_at),
        actor,
        merchant_id,
        action,
        target,
        outcome,
        details,
    ]
    encoded = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def row_content_hash(row: Any) -> str:
    """Recompute the content hash of a stored ``audit_log`` row."""
    return content_hash(
        occurred_at=row.occurred_at,
        actor=row.actor,
        merchant_id=row.merchant_id,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        details=row.details,
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
) -> dict[str, Any]:
    """The column values of a new entry (redacted, validated, hashed), without ``seq``."""
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
    values["content_hash"] = content_hash(**values)
    return values


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
    """
    values = entry_values(
        now=now,
        actor=actor,
        action=action,
        outcome=outcome,
        merchant_id=merchant_id,
        target=target,
        details=details,
    )
    result = conn.execute(insert(audit_log).values(**values))
    seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if seq is None:  # pragma: no cover - both drivers always report the new key
        raise RuntimeError("the database did not report the audit entry's sequence number")
    return int(seq)
