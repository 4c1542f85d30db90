"""Keeping a Connect private key or signing secret in the database: the vault's envelope.

The value is encrypted (AES-256-GCM, :mod:`cardshield.crypto.envelope`) under the merchant's
current *encryption* data key, which the KEK wraps (key file, HSM or KMS). So the plaintext
exists only in memory, for one request; a KEK rotation and ``keys rewrap`` cover these values
with no code of their own; and deleting the merchant destroys its data keys, which shreds
them with its cards. The associated data binds a blob to its kind, merchant and row: copied
to another row it no longer opens.
"""

from __future__ import annotations

from sqlalchemy import Connection

from cardshield.crypto import envelope
from cardshield.vault.keys import ENCRYPTION, DataKeys


def _aad(kind: str, merchant_id: str, object_id: str) -> bytes:
    return f"cardshield|{kind}|{merchant_id}|{object_id}".encode()


def seal(
    conn: Connection,
    keys: DataKeys,
    *,
    kind: str,
    merchant_id: str,
    object_id: str,
    plaintext: bytes,
) -> tuple[str, bytes]:
    """``(data key id, blob)`` to store for ``plaintext``; MerchantNotFound without keys."""
    key = keys.current(conn, merchant_id, ENCRYPTION)
    blob = envelope.encrypt(
        key.key,
        plaintext,
        key_id=key.id,
        key_version=key.version,
        aad=_aad(kind, merchant_id, object_id),
    )
    return key.id, blob


def unseal(
    conn: Connection,
    keys: DataKeys,
    *,
    kind: str,
    merchant_id: str,
    object_id: str,
    data_key_id: str,
    blob: bytes,
) -> bytes:
    """The plaintext of :func:`seal`; DecryptionError if it does not authenticate."""
    key = keys.by_id(conn, data_key_id)
    return envelope.decrypt(key, blob, aad=_aad(kind, merchant_id, object_id))
