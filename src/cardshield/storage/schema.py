"""The schema, as SQLAlchemy Core tables. Migrations under ``migrations/`` create it.

Card data appears only as ``cards.ciphertext`` (AES-256-GCM under the merchant's data key,
bound to its token and merchant). There is no column for a security code anywhere: CVVs
live in the volatile store only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
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

# Basic credentials Twilio's Generic Pay Connector presents (one merchant each). The
# password is 256 random bits, so its SHA-256 is what is kept (as for API keys).
pay_connector_credentials = Table(
    "pay_connector_credentials",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False, index=True),
    Column("password_hash", String(128), nullable=False),
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
    # How content_hash was computed: 2 = HMAC under the audit key, 1 = plain SHA-256 (entries
    # from before keyed hashes; the default, so rows written without saying stay checkable).
    Column("hash_version", SmallInteger, nullable=False, server_default=text("1")),
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

# -- payments -----------------------------------------------------------------------------

# A payment by token, through one connector. Amounts are integers in the currency's minor
# unit. ``version`` guards state transitions (optimistic locking: UPDATE ... WHERE version).
payments = Table(
    "payments",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_authorized", BigInteger, nullable=False, default=0),
    Column("amount_captured", BigInteger, nullable=False, default=0),
    Column("amount_refunded", BigInteger, nullable=False, default=0),
    Column("capture_method", String(16), nullable=False),  # "automatic" | "manual"
    Column("token", String(64)),  # the vault token charged (single-use ones are consumed)
    Column("card_brand", String(16)),
    Column("card_bin", String(8)),
    Column("card_last4", String(4)),
    Column("card_exp_month", Integer),
    Column("card_exp_year", Integer),
    Column("connector", String(32), nullable=False),
    Column("connector_reference", String(128)),
    Column("decline_code", String(64)),
    Column("raw_decline_code", String(128)),
    Column("failure_message", String(500)),
    Column("next_action", JSON),
    Column("description", String(500)),
    Column("metadata", JSON, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "created_at"),
    Index(None, "connector", "connector_reference"),
)

# Every gateway operation as a recoverable phase: written "pending" with the idempotency
# key passed to the gateway BEFORE the call, completed after it. A crash in between leaves
# a pending operation that a retry resumes with the same gateway key (no second charge).
payment_operations = Table(
    "payment_operations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_id", String(64), ForeignKey("payments.id"), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # authorize|capture|void|refund|verify
    Column("status", String(16), nullable=False),  # pending|succeeded|failed
    Column("amount", BigInteger, nullable=False),
    Column("gateway_key", String(128), nullable=False, unique=True),
    Column("connector_reference", String(128)),
    Column("refund_id", String(64)),
    Column("unified_code", String(64)),
    Column("raw_code", String(128)),
    Column("message", String(500)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime()),
    Index(None, "payment_id", "created_at"),
    Index(None, "status", "created_at"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_id", String(64), ForeignKey("payments.id"), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # pending|succeeded|failed
    Column("reason", String(64)),
    Column("connector_reference", String(128)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "payment_id"),
)

# Stripe-style idempotency: the first response to (merchant, key) is stored and replayed.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # in_progress|done
    Column("locked_until", UTCDateTime()),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("payment_id", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "created_at"),
)

# -- merchant webhooks (outbox) -----------------------------------------------------------

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", String(128), nullable=False),  # whsec_...: signs, never card data
    # After a roll, the old secret also signs until it expires (migration 0003).
    Column("previous_secret", String(128)),
    Column("previous_secret_expires_at", UTCDateTime()),
    Column("enabled_events", JSON, nullable=False),  # ["*"] or event types
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

# Events are written in the same transaction as the state change they describe.
events = Table(
    "events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("object_id", String(64)),  # the payment (or other object) it is about
    Column("data", JSON, nullable=False),  # a snapshot of the object: tokens, masked data
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), ForeignKey("events.id"), nullable=False),
    Column("endpoint_id", String(64), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("object_id", String(64)),  # deliveries for one object go out in order
    Column("status", String(16), nullable=False),  # pending|delivered|failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("leased_until", UTCDateTime()),
    Column("lease_owner", String(64)),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Index(None, "status", "next_attempt_at"),
    Index(None, "endpoint_id", "object_id", "id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigIntId, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempted_at", UTCDateTime(), nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
)

# -- forward proxy ------------------------------------------------------------------------

forward_destinations = Table(
    "forward_destinations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("host", String(253), nullable=False),  # a DNS name; HTTPS only, no literal IPs
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("merchant_id", "host"),
)

# -- the built-in sandbox processor's own ledger (it plays an outside processor) ----------

# -- Amazon Connect (migration 0008) ------------------------------------------------------

# RSA key pairs whose certificates a merchant uploads to Amazon Connect, which encrypts the
# caller's keyed input to them. The private key is stored only envelope-encrypted under the
# merchant's data key (so wrapped by the KEK, and shredded with the merchant's keys); it is
# cleared when the key is retired. ``connect_key_id`` is the id Connect gives the uploaded
# key, which its ciphertexts name: NULL while the key is pending.
connect_keys = Table(
    "connect_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("status", String(16), nullable=False),  # pending | active | retired
    Column("connect_key_id", String(36)),
    Column("certificate", Text, nullable=False),  # PEM: public, shown again in lists
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the public key (DER)
    Column("data_key_id", String(64), ForeignKey("data_keys.id"), nullable=False),
    Column("private_key", LargeBinary),  # envelope blob of the PKCS#8 PEM; NULL once retired
    Column("created_at", UTCDateTime(), nullable=False),
    Column("activated_at", UTCDateTime()),
    Column("retired_at", UTCDateTime()),
    Column("last_used_at", UTCDateTime()),
    UniqueConstraint("merchant_id", "connect_key_id"),
    Index(None, "merchant_id", "status"),
)

# The secrets a merchant's Lambda signs its requests with, and the Connect instances each
# may speak for. The server recomputes the HMAC, so the secret is kept (envelope-encrypted
# as above, cleared on revocation), never only a hash of it.
connect_secrets = Table(
    "connect_secrets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("merchants.id"), nullable=False),
    Column("prefix", String(32), nullable=False),  # shown in lists: cnsec_abcd...
    Column("instance_arns", JSON, nullable=False),
    Column("data_key_id", String(64), ForeignKey("data_keys.id"), nullable=False),
    Column("secret", LargeBinary),  # envelope blob; NULL once revoked
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Index(None, "merchant_id"),
)

# Signatures already accepted, kept for twice the timestamp tolerance: a request sent again
# inside the window is refused. In the database so that every node sees every signature.
connect_replays = Table(
    "connect_replays",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of merchant, t and v1
    Column("merchant_id", String(64), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Index(None, "seen_at"),
)

sandbox_ledger = Table(
    "sandbox_ledger",
    metadata,
    Column("id", String(64), primary_key=True),  # the sandbox's own reference: sbx_ch_...
    Column("account", String(64), nullable=False),  # the merchant's sandbox account
    Column("idempotency_key", String(255), nullable=False, unique=True),
    Column("operation", String(16), nullable=False),  # authorize|capture|void|refund|verify
    Column("parent_id", String(64)),  # the authorization a capture/void/refund applies to
    Column("status", String(16), nullable=False),  # succeeded|declined|failed
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("card_brand", String(16)),
    Column("card_last4", String(4)),
    Column("decline_code", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "account", "created_at"),
    Index(None, "parent_id"),
)

# -- operators (people who use the console; migration 0004) ------------------------------

# One row per person. The TOTP seed is stored only wrapped by the KEK (context bound to the
# operator id), so a database dump alone cannot mint codes.
operators = Table(
    "operators",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # lower case
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # see security/permissions.py
    Column("merchant_id", String(64), ForeignKey("merchants.id")),  # NULL: every merchant
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("password_changed_at", UTCDateTime(), nullable=False),
    Column("totp_secret", LargeBinary),  # WrappedKey bytes; NULL until enrolled
    Column("totp_enrolled_at", UTCDateTime()),
    Column("totp_last_step", BigInteger),  # last accepted time step: a code works once
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime()),
    Column("last_login_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

# One-time recovery codes, stored as SHA-256 of 80 random bits; used_at marks the one use.
operator_recovery_codes = Table(
    "operator_recovery_codes",
    metadata,
    Column("id", BigIntId, primary_key=True, autoincrement=True),
    Column("operator_id", String(64), ForeignKey("operators.id"), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
    Index(None, "operator_id"),
)

# Console sessions live in the database so any node can serve any request. The id is the
# SHA-256 of the cookie value: a database reader cannot replay a session.
operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("operator_id", String(64), ForeignKey("operators.id"), nullable=False),
    Column("stage", String(16), nullable=False),  # mfa | enroll | active
    Column("csrf_token", String(64), nullable=False),
    Column("pending_totp", LargeBinary),  # enrollment: the wrapped seed being confirmed
    # The one outstanding security-key challenge (sign-in or adding a key; migration 0006):
    # taken, and so cleared, by the first answer, right or wrong.
    Column("webauthn_challenge", LargeBinary),
    Column("webauthn_challenge_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),  # absolute limit
    Column("reauth_at", UTCDateTime()),  # last password + code check (sensitive actions)
    Column("ip", String(64)),
    Column("user_agent", String(200)),
    Index(None, "operator_id"),
    Index(None, "last_seen_at"),
)

# Security keys (WebAuthn) an operator added after enrolling TOTP (migration 0006): the
# public key only. The sign count catches a cloned authenticator that supports one.
operator_security_keys = Table(
    "operator_security_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("operator_id", String(64), ForeignKey("operators.id"), nullable=False),
    Column("credential_id", LargeBinary, nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),  # COSE_Key bytes
    Column("sign_count", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("aaguid", String(36), nullable=False),
    Column("transports", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Index(None, "operator_id"),
)
