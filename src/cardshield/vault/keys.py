"""Per-merchant data keys: created at merchant creation, stored wrapped by the KEK.

Each merchant has an *encryption* key (AES-256-GCM for its PANs) and a *fingerprint* key
(HMAC-SHA256, so the same card gives the same fingerprint within a merchant and an
unrelated one across merchants). Unwrapped keys sit in a short-lived in-memory cache so
the hot tokenize path does not call the KMS per request.

Rotation adds a KEK version in the KMS; :meth:`DataKeys.rewrap_batch` re-wraps data keys
under the newest version a batch at a time. Each row is updated only if it still has the
version it was read with, so a crashed or concurrent re-wrap is safe to run again.
Destroying a merchant's keys makes its ciphertexts unreadable for good (crypto-shredding).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, select, update

from cardshield.crypto.envelope import generate_data_key
from cardshield.crypto.errors import DecryptionError
from cardshield.crypto.keycache import KeyCache
from cardshield.crypto.kms.base import KMSProvider, WrappedKey
from cardshield.errors import ConfigError
from cardshield.storage.schema import data_keys
from cardshield.vault.errors import MerchantNotFound

ENCRYPTION = "encryption"
FINGERPRINT = "fingerprint"


def _context(merchant_id: str, purpose: str, version: int) -> bytes:
    # Binds a wrapped key to its owner and purpose: a wrapped key copied to another
    # merchant's row does not unwrap.
    return f"cardshield|data-key|{merchant_id}|{purpose}|{version}".encode()


@dataclass(frozen=True, slots=True)
class DataKey:
    id: str
    merchant_id: str
    purpose: str
    version: int
    key: bytes

    def __repr__(self) -> str:
        return f"DataKey(id={self.id!r}, purpose={self.purpose!r}, version={self.version})"


class DataKeys:
    def __init__(self, kms: KMSProvider, cache: KeyCache) -> None:
        self._kms = kms
        self._cache = cache
        # (merchant, purpose) -> (key id, version) of the cached current key.
        self._cache_meta: dict[tuple[str, str], tuple[str, int]] = {}

    def create_for_merchant(self, conn: Connection, merchant_id: str, *, now: datetime) -> None:
        for purpose in (ENCRYPTION, FINGERPRINT):
            key = generate_data_key()
            wrapped = self._kms.wrap(key, context=_context(merchant_id, purpose, 1))
            conn.execute(
                data_keys.insert().values(
                    id="dk_" + secrets.token_hex(12),
                    merchant_id=merchant_id,
                    purpose=purpose,
                    version=1,
                    kek_version=wrapped.kek_version,
                    wrapped=wrapped.to_bytes(),
                    created_at=now,
                )
            )

    def cached(self, merchant_id: str, purpose: str) -> DataKey | None:
        """The newest live key of a merchant for ``purpose`` if it is cached, else None."""
        cached = self._cache.get((merchant_id, purpose))
        if cached is None:
            return None
        key_id, version = self._cache_meta[(merchant_id, purpose)]
        return DataKey(key_id, merchant_id, purpose, version, cached)

    def current(self, conn: Connection, merchant_id: str, purpose: str) -> DataKey:
        """The newest live key of a merchant for ``purpose`` (cached once unwrapped)."""
        found = self.cached(merchant_id, purpose)
        if found is not None:
            return found
        row = conn.execute(
            select(data_keys.c.id, data_keys.c.version, data_keys.c.wrapped)
            .where(
                data_keys.c.merchant_id == merchant_id,
                data_keys.c.purpose == purpose,
                data_keys.c.wrapped.is_not(None),
            )
            .order_by(data_keys.c.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise MerchantNotFound
        key = self._unwrap(merchant_id, purpose, row.version, row.wrapped)
        self._cache.put((merchant_id, purpose), key)
        self._cache_meta[(merchant_id, purpose)] = (row.id, row.version)
        self._cache.put(row.id, key)
        return DataKey(row.id, merchant_id, purpose, row.version, key)

    def by_id(self, conn: Connection, key_id: str) -> bytes:
        """An encryption key by id, for decrypting a stored ciphertext."""
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        row = conn.execute(select(data_keys).where(data_keys.c.id == key_id)).first()
        if row is None or row.wrapped is None:
            # Destroyed (crypto-shredded) or never existed: the card is gone either way.
            raise MerchantNotFound
        key = self._unwrap(row.merchant_id, row.purpose, row.version, row.wrapped)
        self._cache.put(key_id, key)
        return key

    def check_kek(self, conn: Connection) -> None:
        """Unwrap one live data key of the newest KEK version the database uses.

        A key file or KMS key from another installation (or a KEK version retired before
        its data keys were rewrapped) is refused here, when the service starts, instead of
        at the first card it tries to read. ConfigError says what to check.
        """
        row = conn.execute(
            select(data_keys)
            .where(data_keys.c.wrapped.is_not(None))
            .order_by(data_keys.c.kek_version.desc(), data_keys.c.created_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return  # nothing encrypted yet: any KEK will do
        try:
            self._unwrap(row.merchant_id, row.purpose, row.version, row.wrapped)
        except DecryptionError as exc:
            raise ConfigError(
                f"the key-encryption key cannot unwrap this database's data keys (KEK version "
                f"{row.kek_version}): the key file or KMS key belongs to another installation, "
                "or that version was retired before `cardshield keys rewrap`"
            ) from exc

    def _unwrap(self, merchant_id: str, purpose: str, version: int, blob: bytes) -> bytes:
        return self._kms.unwrap(
            WrappedKey.from_bytes(blob), context=_context(merchant_id, purpose, version)
        )

    def destroy_for_merchant(self, conn: Connection, merchant_id: str, *, now: datetime) -> int:
        ids = [
            r.id
            for r in conn.execute(
                select(data_keys.c.id).where(data_keys.c.merchant_id == merchant_id)
            )
        ]
        conn.execute(
            update(data_keys)
            .where(data_keys.c.merchant_id == merchant_id)
            .values(wrapped=None, destroyed_at=now)
        )
        for key_id in ids:
            self._cache.evict(key_id)
        for purpose in (ENCRYPTION, FINGERPRINT):
            self._cache.evict((merchant_id, purpose))
        return len(ids)

    def counts_by_kek_version(self, conn: Connection) -> dict[int, int]:
        rows = conn.execute(
            select(data_keys.c.kek_version, func.count())
            .where(data_keys.c.wrapped.is_not(None))
            .group_by(data_keys.c.kek_version)
        )
        return {int(v): int(n) for v, n in rows}

    def pending_rewrap(self, conn: Connection) -> int:
        target = self._kms.current_version()
        return int(
            conn.execute(
                select(func.count()).where(
                    data_keys.c.wrapped.is_not(None), data_keys.c.kek_version < target
                )
            ).scalar_one()
        )

    def rewrap_batch(self, conn: Connection, *, now: datetime, batch_size: int = 200) -> int:
        """Re-wrap up to ``batch_size`` keys under the newest KEK; returns how many moved."""
        target = self._kms.current_version()
        rows = conn.execute(
            select(data_keys)
            .where(data_keys.c.wrapped.is_not(None), data_keys.c.kek_version < target)
            .order_by(data_keys.c.id)
            .limit(batch_size)
        ).all()
        moved = 0
        for row in rows:
            ctx = _context(row.merchant_id, row.purpose, row.version)
            key = self._kms.unwrap(WrappedKey.from_bytes(row.wrapped), context=ctx)
            wrapped = self._kms.wrap(key, context=ctx)
            result = conn.execute(
                update(data_keys)
                .where(and_(data_keys.c.id == row.id, data_keys.c.kek_version == row.kek_version))
                .values(
                    wrapped=wrapped.to_bytes(), kek_version=wrapped.kek_version, rewrapped_at=now
                )
            )
            moved += result.rowcount
        return moved
