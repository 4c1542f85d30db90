"""The schema, as SQLAlchemy Core tables. Migrations under ``migrations/`` create it.

Card data appears only as ``cards.ciphertext`` (AES-256-GCM under the merchant's data key,
bound to its token and merchant). There is no column for a security code anywhere: CVVs
live in the volatile store only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cardshield.storage.types import BigIntId, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime()),
)

# Per-merchant data keys, stored only wrapped by the KEK. Destroying a merchant's keys
# (wrapped = NULL) makes its ciphertexts unreadable for good: crypto-shredding.
data_keys = Table(
    "data_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("purpose", String(16), nullable=False),  # "encryption" | "fingerprint"
    Column("version", Integer, nullable=False),
    Column("kek_version", Integer, nullable=False),
    Column("wrapped", LargeBinary),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("rewrapped_at", UTCDateTime()),
    Column("destroyed_at", UTCDateTime()),
    UniqueConstraint("merchant_id", "purpose", "version"),
    Index(None, "kek_version"),
)

cards = Table(
    "cards",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("bin", String(8), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("brand", String(16), nullable=False),
    Column("exp_month", Integer, nullable=False),
    Column("exp_year", Integer, nullable=False),
    Column("data_key_id", String(64), ForeignKey("data_keys.id"), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("single_use", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("used_at", UTCDateTime()),
    Column("expires_at", UTCDateTime()),
    Index(None, "merchant_id", "fingerprint"),
    Index(None, "expires_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # "secret" | "publishable"
    Column("prefix", String(32), nullable=False),  # shown in lists: sk_live_abcd...
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False),
    Column("allowed_origins", JSON, nullable=False),
    Column("description", String(200), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
)

# Append-only audit log. Each entry is written in the action's own transaction with its
# content hash; a sealer links committed entries into the hash chain in seq order later.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigIntId, primary_key=True, autoincrement=True),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("merchant_id", String(64)),
    Column("action", String(64), nullable=False),
    Column("target", String(128)),
    Column("outcome", String(16), nullable=False),
    Column("details", Text, nullable=False),  # canonical JSON, masked data only
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64)),
    Column("chain_hash", String(64)),
    Column("sealed_at", UTCDateTime()),
    Index(None, "merchant_id", "occurred_at"),
    Index(None, "action", "occurred_at"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("upto_seq", BigIntId, nullable=False, unique=True),
    Column("chain_hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
