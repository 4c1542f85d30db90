"""The vault: the only place a PAN is kept, always encrypted, and where tokens come from.

Operations (time always passed in as ``now``, an aware UTC datetime):

* :meth:`Vault.tokenize` - encrypt and store a card, return its token and metadata; the CVV,
  if given, goes to the volatile store only.
* :meth:`Vault.retrieve` - metadata (brand, BIN, last 4, expiry, fingerprint), never the PAN.
* :meth:`Vault.use_for_forwarding` - the only path that decrypts: a context manager that
  yields the card for one gateway or forward-proxy call, consuming a single-use token and
  the CVV.
* :meth:`Vault.delete`, :meth:`Vault.purge` - remove card data; deleting a merchant
  destroys its data keys (crypto-shredding).

Each of these writes one audit entry in the same database transaction as the change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Row, delete, or_, select, update

from cardshield.cards import CVV, PAN, Expiry, mask_stored
from cardshield.crypto import envelope
from cardshield.crypto.fingerprint import fingerprint
from cardshield.crypto.keycache import KeyCache
from cardshield.crypto.kms.base import KMSProvider
from cardshield.crypto.tokens import format_preserving_token, random_token
from cardshield.security.audit import append as audit
from cardshield.storage.schema import cards, merchants
from cardshield.vault.cvv_store import CVVStore
from cardshield.vault.errors import (
    MerchantNotFound,
    TokenAlreadyUsed,
    TokenExpired,
    TokenNotFound,
    TokenSpaceExhausted,
)
from cardshield.vault.keys import ENCRYPTION, FINGERPRINT, DataKeys


@dataclass(frozen=True, slots=True)
class VaultPolicy:
    single_use_ttl: timedelta = timedelta(minutes=15)
    cvv_ttl: timedelta = timedelta(minutes=10)
    # Reusable cards unused for this long are purged; None keeps them until deleted.
    retention: timedelta | None = timedelta(days=365 * 2)
    key_cache_ttl_s: float = 300.0


@dataclass(frozen=True, slots=True)
class CardRecord:
    """What anyone outside the vault may know about a stored card."""

    token: str
    merchant_id: str
    brand: str
    bin: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    single_use: bool
    created_at: datetime
    last_used_at: datetime | None
    used_at: datetime | None
    expires_at: datetime | None

    @property
    def masked(self) -> str:
        return mask_stored(self.bin, self.last4)


@dataclass(frozen=True, slots=True)
class CardData:
    """Plaintext card data for one forwarding call; every field has a masked repr."""

    pan: PAN
    expiry: Expiry
    cvv: CVV | None


def _record(row: Row[tuple[object, ...]]) -> CardRecord:
    m = row._mapping
    return CardRecord(
        token=m["token"],
        merchant_id=m["merchant_id"],
        brand=m["brand"],
        bin=m["bin"],
        last4=m["last4"],
        exp_month=m["exp_month"],
        exp_year=m["exp_year"],
        fingerprint=m["fingerprint"],
        single_use=m["single_use"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        used_at=m["used_at"],
        expires_at=m["expires_at"],
    )


def _aad(merchant_id: str, token: str) -> bytes:
    # Binds each ciphertext to its row: copied onto another token or merchant, it won't open.
    return f"cardshield|card|{merchant_id}|{token}".encode()


_METADATA_COLUMNS = [c for c in cards.c if c.name not in ("ciphertext", "data_key_id")]
_INSERT_CARD = cards.insert()


class Vault:
    def __init__(
        self,
        engine: Engine,
        kms: KMSProvider,
        cvv_store: CVVStore,
        policy: VaultPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.kms = kms
        self.cvv_store = cvv_store
        self.policy = policy or VaultPolicy()
        self.keys = DataKeys(kms, KeyCache(self.policy.key_cache_ttl_s))

    # -- merchants -------------------------------------------------------------------------

    def create_merchant(
        self, name: str, *, now: datetime, merchant_id: str | None = None, actor: str = "system"
    ) -> str:
        # Base62, not hex: 16 hex characters are all digits once in ~1,850 ids, and one in
        # ten of those passes the Luhn check: it then reads as a card number to PAN scanners.
        merchant_id = merchant_id or random_token("mer_")
        with self.engine.begin() as conn:
            conn.execute(merchants.insert().values(id=merchant_id, name=name, created_at=now))
            self.keys.create_for_merchant(conn, merchant_id, now=now)
            audit(conn, now=now, actor=actor, action="merchant.create", merchant_id=merchant_id)
        return merchant_id

    def delete_merchant(self, merchant_id: str, *, now: datetime, actor: str = "system") -> int:
        """Delete every card of a merchant and destroy its data keys; returns cards removed."""
        with self.engine.begin() as conn:
            self._require_merchant(conn, merchant_id)
            removed = conn.execute(delete(cards).where(cards.c.merchant_id == merchant_id))
            destroyed = self.keys.destroy_for_merchant(conn, merchant_id, now=now)
            conn.execute(
                update(merchants).where(merchants.c.id == merchant_id).values(deleted_at=now)
            )
            audit(
                conn,
                now=now,
                actor=actor,
                action="merchant.delete",
                merchant_id=merchant_id,
                details={"cards_removed": removed.rowcount, "keys_destroyed": destroyed},
            )
        return int(removed.rowcount)

    def _require_merchant(self, conn: Connection, merchant_id: str) -> None:
        row = conn.execute(
            select(merchants.c.deleted_at).where(merchants.c.id == merchant_id)
        ).first()
        if row is None or row.deleted_at is not None:
            raise MerchantNotFound

    # -- cards -----------------------------------------------------------------------------

    def tokenize(
        self,
        merchant_id: str,
        pan: PAN,
        expiry: Expiry,
        cvv: CVV | None = None,
        *,
        now: datetime,
        single_use: bool = True,
        dedup: bool = False,
        format_preserving: bool = False,
        actor: str = "api",
    ) -> CardRecord:
        """Store a card and return its record. ``expiry`` must not be past (``now``)."""
        expiry.check(now)
        if cvv is not None:
            cvv = CVV(cvv.reveal(), pan.brand)  # per-brand length rule
        with self.engine.begin() as conn:
            enc = self.keys.current(conn, merchant_id, ENCRYPTION)
            fp = fingerprint(self.keys.current(conn, merchant_id, FINGERPRINT).key, pan)
            if dedup and not single_use:
                existing = conn.execute(
                    select(*_METADATA_COLUMNS).where(
                        cards.c.merchant_id == merchant_id,
                        cards.c.fingerprint == fp,
                        cards.c.single_use.is_(False),
                        cards.c.exp_month == expiry.month,
                        cards.c.exp_year == expiry.year,
                    )
                ).first()
                if existing is not None:
                    audit(
                        conn,
                        now=now,
                        actor=actor,
                        action="card.tokenize",
                        merchant_id=merchant_id,
                        target=existing.token,
                        details={"masked": pan.masked(), "dedup": True},
                    )
                    return _record(existing)
            token = self._new_token(conn, pan, format_preserving)
            expires_at = now + self.policy.single_use_ttl if single_use else None
            values = {
                "token": token,
                "merchant_id": merchant_id,
                "fingerprint": fp,
                "bin": pan.bin8 if pan.length >= 16 else pan.bin,
                "last4": pan.last4,
                "brand": pan.brand.value,
                "exp_month": expiry.month,
                "exp_year": expiry.year,
                "data_key_id": enc.id,
                "ciphertext": envelope.encrypt(
                    enc.key,
                    pan.reveal().encode("ascii"),
                    key_id=enc.id,
                    key_version=enc.version,
                    aad=_aad(merchant_id, token),
                ),
                "single_use": single_use,
                "created_at": now,
                "last_used_at": None,
                "used_at": None,
                "expires_at": expires_at,
            }
            conn.execute(_INSERT_CARD, values)  # compiled once; .values() would rebuild it
            audit(
                conn,
                now=now,
                actor=actor,
                action="card.tokenize",
                merchant_id=merchant_id,
                target=token,
                details={"masked": pan.masked(), "single_use": single_use, "cvv": cvv is not None},
            )
        if cvv is not None:
            self.cvv_store.put(f"{merchant_id}:{token}", cvv, self.policy.cvv_ttl.total_seconds())
        values.pop("ciphertext")
        values.pop("data_key_id")
        return CardRecord(**values)  # type: ignore[arg-type]

    def card_digest(self, merchant_id: str, pan: PAN) -> str:
        """A short digest that tells this merchant's cards apart, for counting distinct
        cards (card probing) in shared storage; stores nothing. Derived from the fingerprint
        so it means nothing without the merchant's key, and never returned to a client."""
        found = self.keys.cached(merchant_id, FINGERPRINT)  # no connection when cached
        if found is None:
            with self.engine.connect() as conn:
                found = self.keys.current(conn, merchant_id, FINGERPRINT)
        key = found.key
        digest = hashlib.sha256(b"cardshield|probe|" + fingerprint(key, pan).encode())
        return digest.hexdigest()[:32]

    def _new_token(self, conn: Connection, pan: PAN, format_preserving: bool) -> str:
        if not format_preserving:
            return random_token("tok_")  # 128 random bits: collisions are not a concern
        # A format-preserving token has only the middle digits to vary (about a million
        # values for a 16-digit card), so look before using one.
        for _ in range(20):
            token = format_preserving_token(pan)
            if conn.execute(select(cards.c.token).where(cards.c.token == token)).first() is None:
                return token
        raise TokenSpaceExhausted

    def retrieve(self, merchant_id: str, token: str) -> CardRecord:
        """Metadata of a token of this merchant (another merchant's token is not found)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_METADATA_COLUMNS).where(
                    cards.c.token == token, cards.c.merchant_id == merchant_id
                )
            ).first()
        if row is None:
            raise TokenNotFound(param="token")
        return _record(row)

    @contextmanager
    def use_for_forwarding(
        self, merchant_id: str, token: str, *, now: datetime, actor: str, purpose: str
    ) -> Iterator[CardData]:
        """Decrypt a card for one outbound call; consumes single-use tokens and the CVV.

        The plaintext exists only inside the ``with`` block. ``purpose`` (e.g.
        ``gateway:stripe:authorize``) goes to the audit entry.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(cards).where(cards.c.token == token, cards.c.merchant_id == merchant_id)
            ).first()
            if row is None:
                raise TokenNotFound(param="token")
            if row.single_use:
                if row.used_at is not None:
                    raise TokenAlreadyUsed(param="token")
                if row.expires_at is not None and row.expires_at <= now:
                    raise TokenExpired(param="token")
                claimed = conn.execute(
                    update(cards)
                    .where(cards.c.token == token, cards.c.used_at.is_(None))
                    .values(used_at=now, last_used_at=now)
                )
                if claimed.rowcount != 1:  # a concurrent use won the race
                    raise TokenAlreadyUsed(param="token")
            else:
                conn.execute(update(cards).where(cards.c.token == token).values(last_used_at=now))
            key = self.keys.by_id(conn, row.data_key_id)
            digits = envelope.decrypt(key, row.ciphertext, aad=_aad(merchant_id, token))
            audit(
                conn,
                now=now,
                actor=actor,
                action="card.use",
                merchant_id=merchant_id,
                target=token,
                details={"purpose": purpose, "masked": mask_stored(row.bin, row.last4)},
            )
        cvv = self.cvv_store.take(f"{merchant_id}:{token}")
        card = CardData(
            pan=PAN(digits.decode("ascii")),
            expiry=Expiry(year=row.exp_year, month=row.exp_month),
            cvv=cvv,
        )
        yield card

    def save_card(
        self, merchant_id: str, token: str, *, now: datetime, actor: str = "api"
    ) -> CardRecord:
        """Turn a single-use token into a reusable one (a saved card); consumes the token.

        The same card saved twice gives the same reusable token (fingerprint dedup). The CVV
        is not carried over: it may only serve the authorization it was collected for.
        """
        with self.use_for_forwarding(
            merchant_id, token, now=now, actor=actor, purpose="save_card"
        ) as card:
            return self.tokenize(
                merchant_id,
                card.pan,
                card.expiry,
                None,
                now=now,
                single_use=False,
                dedup=True,
                actor=actor,
            )

    def delete(self, merchant_id: str, token: str, *, now: datetime, actor: str = "api") -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(cards).where(cards.c.token == token, cards.c.merchant_id == merchant_id)
            )
            if result.rowcount != 1:
                raise TokenNotFound(param="token")
            audit(
                conn,
                now=now,
                actor=actor,
                action="card.delete",
                merchant_id=merchant_id,
                target=token,
            )
        self.cvv_store.discard(f"{merchant_id}:{token}")

    def purge(self, *, now: datetime, batch_size: int = 1000, actor: str = "system") -> int:
        """Delete expired single-use tokens, used ones, and reusable cards past retention."""
        conditions = [cards.c.expires_at <= now, cards.c.used_at.is_not(None)]
        if self.policy.retention is not None:
            cutoff = now - self.policy.retention
            conditions.append(
                (cards.c.single_use.is_(False))
                & (cards.c.created_at <= cutoff)
                & (or_(cards.c.last_used_at.is_(None), cards.c.last_used_at <= cutoff))
            )
        total = 0
        while True:
            with self.engine.begin() as conn:
                tokens = [
                    r.token
                    for r in conn.execute(
                        select(cards.c.token).where(or_(*conditions)).limit(batch_size)
                    )
                ]
                if not tokens:
                    break
                conn.execute(delete(cards).where(cards.c.token.in_(tokens)))
                audit(
                    conn,
                    now=now,
                    actor=actor,
                    action="card.purge",
                    details={"count": len(tokens)},
                )
            total += len(tokens)
        return total
