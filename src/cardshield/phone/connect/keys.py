"""The key pairs a merchant's Amazon Connect instance encrypts callers' input to.

A key's life::

    create    -> pending   a new RSA-4096 pair; the merchant uploads its public key to Connect
                           (which shows a key id) and pastes the certificate into the flow
    activate  -> active    the key id Connect showed is recorded: its ciphertexts name it
    retire    -> retired   the sealed private key is erased: nothing encrypted to it opens again

At most two keys of a merchant are pending or active at once, as Connect allows two (one
in use, one being rolled in). The private key is stored only sealed (:mod:`.sealed`) and is
opened in memory for one request by :meth:`ConnectKeys.private_keys`. Every create, activate,
retire and use writes an audit entry in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Connection, func, select, update

from cardshield.crypto.tokens import random_token
from cardshield.phone.connect import certificates
from cardshield.phone.connect.errors import (
    ConnectKeyIdInUse,
    ConnectKeyNotFound,
    ConnectKeyNotPending,
    InvalidConnectKeyId,
    TooManyConnectKeys,
)
from cardshield.phone.connect.identifiers import canonical_uuid
from cardshield.phone.connect.sealed import seal, unseal
from cardshield.security.audit import append as audit
from cardshield.storage.schema import connect_keys, merchants
from cardshield.vault.errors import MerchantNotFound
from cardshield.vault.keys import DataKeys

PENDING, ACTIVE, RETIRED = "pending", "active", "retired"
MAX_LIVE_KEYS = 2  # Amazon Connect's own limit of encryption keys per instance
_KIND = "connect-key"


@dataclass(frozen=True, slots=True)
class ConnectKey:
    """What anyone may see of a key: the certificate and public key are public by design."""

    id: str
    merchant_id: str
    status: str
    connect_key_id: str | None
    certificate_pem: str
    fingerprint: str
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    last_used_at: datetime | None

    @property
    def public_key_pem(self) -> str:
        return certificates.public_key_pem(self.certificate_pem)


_PUBLIC_COLUMNS = [c for c in connect_keys.c if c.name not in ("private_key", "data_key_id")]


def _key(row: Any) -> ConnectKey:
    m = row._mapping
    return ConnectKey(
        id=m["id"],
        merchant_id=m["merchant_id"],
        status=m["status"],
        connect_key_id=m["connect_key_id"],
        certificate_pem=m["certificate"],
        fingerprint=m["fingerprint"],
        created_at=m["created_at"],
        activated_at=m["activated_at"],
        retired_at=m["retired_at"],
        last_used_at=m["last_used_at"],
    )


def _require_merchant(conn: Connection, merchant_id: str) -> None:
    # FOR UPDATE (PostgreSQL; SQLite writes one at a time anyway) holds the merchant row,
    # so two concurrent creates cannot both see one live key and both add a second.
    row = conn.execute(
        select(merchants.c.deleted_at).where(merchants.c.id == merchant_id).with_for_update()
    ).first()
    if row is None or row.deleted_at is not None:
        raise MerchantNotFound


class ConnectKeys:
    def __init__(self, data_keys: DataKeys) -> None:
        self._data_keys = data_keys

    def create(
        self, conn: Connection, *, merchant_id: str, now: datetime, actor: str
    ) -> ConnectKey:
        """A new pending key pair; TooManyConnectKeys when two are pending or active."""
        _require_merchant(conn, merchant_id)
        live = conn.execute(
            select(func.count()).where(
                connect_keys.c.merchant_id == merchant_id, connect_keys.c.status != RETIRED
            )
        ).scalar_one()
        if live >= MAX_LIVE_KEYS:
            raise TooManyConnectKeys
        key_id = random_token("ck_")
        pair = certificates.generate(
            common_name=f"cardshield Amazon Connect {merchant_id}", now=now
        )
        data_key_id, blob = seal(
            conn,
            self._data_keys,
            kind=_KIND,
            merchant_id=merchant_id,
            object_id=key_id,
            plaintext=pair.private_pem.reveal(),
        )
        conn.execute(
            connect_keys.insert().values(
                id=key_id,
                merchant_id=merchant_id,
                status=PENDING,
                connect_key_id=None,
                certificate=pair.certificate_pem,
                fingerprint=pair.fingerprint,
                data_key_id=data_key_id,
                private_key=blob,
                created_at=now,
            )
        )
        audit(
            conn,
            now=now,
            actor=actor,
            action="connect_key.create",
            merchant_id=merchant_id,
            target=key_id,
            details={"fingerprint": pair.fingerprint, "bits": certificates.KEY_BITS},
        )
        return self.get(conn, merchant_id=merchant_id, key_id=key_id)

    def activate(
        self,
        conn: Connection,
        *,
        merchant_id: str,
        key_id: str,
        connect_key_id: str,
        now: datetime,
        actor: str,
    ) -> ConnectKey:
        """Record the id Connect gave the uploaded key: from now its ciphertexts open."""
        canonical = canonical_uuid(connect_key_id.strip())
        if canonical is None:
            raise InvalidConnectKeyId(param="connect_key_id")
        current = self.get(conn, merchant_id=merchant_id, key_id=key_id)
        if current.status != PENDING:
            raise ConnectKeyNotPending(param="key_id")
        taken = conn.execute(
            select(connect_keys.c.id).where(
                connect_keys.c.merchant_id == merchant_id,
                connect_keys.c.connect_key_id == canonical,
            )
        ).first()
        if taken is not None:
            raise ConnectKeyIdInUse(param="connect_key_id")
        conn.execute(
            update(connect_keys)
            .where(connect_keys.c.id == key_id, connect_keys.c.status == PENDING)
            .values(status=ACTIVE, connect_key_id=canonical, activated_at=now)
        )
        audit(
            conn,
            now=now,
            actor=actor,
            action="connect_key.activate",
            merchant_id=merchant_id,
            target=key_id,
            details={"connect_key_id": canonical},
        )
        return self.get(conn, merchant_id=merchant_id, key_id=key_id)

    def retire(
        self, conn: Connection, *, merchant_id: str, key_id: str, now: datetime, actor: str
    ) -> ConnectKey:
        """Erase the sealed private key; retiring a retired key changes nothing."""
        current = self.get(conn, merchant_id=merchant_id, key_id=key_id)
        if current.status == RETIRED:
            return current
        conn.execute(
            update(connect_keys)
            .where(connect_keys.c.id == key_id)
            .values(status=RETIRED, private_key=None, retired_at=now)
        )
        audit(
            conn,
            now=now,
            actor=actor,
            action="connect_key.retire",
            merchant_id=merchant_id,
            target=key_id,
            details={"connect_key_id": current.connect_key_id, "was": current.status},
        )
        return self.get(conn, merchant_id=merchant_id, key_id=key_id)

    def get(self, conn: Connection, *, merchant_id: str, key_id: str) -> ConnectKey:
        row = conn.execute(
            select(*_PUBLIC_COLUMNS).where(
                connect_keys.c.id == key_id, connect_keys.c.merchant_id == merchant_id
            )
        ).first()
        if row is None:
            raise ConnectKeyNotFound(param="key_id")
        return _key(row)

    def list(self, conn: Connection, *, merchant_id: str) -> list[ConnectKey]:
        """Every key of the merchant, retired ones included, oldest first."""
        rows = conn.execute(
            select(*_PUBLIC_COLUMNS)
            .where(connect_keys.c.merchant_id == merchant_id)
            .order_by(connect_keys.c.created_at, connect_keys.c.id)
        )
        return [_key(r) for r in rows]

    def private_key(
        self, conn: Connection, *, merchant_id: str, connect_key_id: str
    ) -> tuple[str, rsa.RSAPrivateKey] | None:
        """``(key id, private key)`` of the merchant's active key Connect calls
        ``connect_key_id``, opened in memory; None when there is no such active key."""
        canonical = canonical_uuid(connect_key_id)
        if canonical is None:
            return None
        row = conn.execute(
            select(connect_keys.c.id, connect_keys.c.data_key_id, connect_keys.c.private_key).where(
                connect_keys.c.merchant_id == merchant_id,
                connect_keys.c.connect_key_id == canonical,
                connect_keys.c.status == ACTIVE,
                connect_keys.c.private_key.is_not(None),
            )
        ).first()
        if row is None:
            return None
        pem = unseal(
            conn,
            self._data_keys,
            kind=_KIND,
            merchant_id=merchant_id,
            object_id=row.id,
            data_key_id=row.data_key_id,
            blob=row.private_key,
        )
        # The pair was made here and comes back only through authenticated decryption, so
        # the RSA consistency checks (a third of a second per 4096-bit key) prove nothing new.
        key = serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - we only store RSA
            return None
        return row.id, key

    def mark_used(self, conn: Connection, key_ids: Iterable[str], *, now: datetime) -> None:
        ids = sorted(set(key_ids))
        if ids:
            conn.execute(
                update(connect_keys).where(connect_keys.c.id.in_(ids)).values(last_used_at=now)
            )
