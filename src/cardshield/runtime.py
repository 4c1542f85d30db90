"""Wiring: from settings to a ready vault (database, KMS, volatile store). Used by every
command and server process, so they all refuse to start the same way: one clear line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from cardshield.config import Settings
from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.gateways import Connector, get_connector
from cardshield.gateways.sandbox import account_for
from cardshield.payments.service import PaymentService
from cardshield.security.apikey_cache import ApiKeyCache
from cardshield.security.audit import bind_key
from cardshield.storage import check_current, make_engine
from cardshield.vault import CVVStore, MemoryCVVStore, RedisCVVStore, Vault, VaultPolicy


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    kms: KMSProvider
    cvv_store: CVVStore
    vault: Vault
    payments: PaymentService
    # Successful API-key look-ups of this process (see cardshield.security.apikey_cache).
    api_keys: ApiKeyCache = field(default_factory=lambda: ApiKeyCache(0))

    def close(self) -> None:
        self.kms.close()
        self.engine.dispose()


def vault_policy(settings: Settings) -> VaultPolicy:
    return VaultPolicy(
        single_use_ttl=timedelta(minutes=settings.token_ttl_minutes),
        cvv_ttl=timedelta(minutes=settings.cvv_ttl_minutes),
        retention=None
        if settings.retention_days is None
        else timedelta(days=settings.retention_days),
    )


def connector_from(settings: Settings) -> Connector:
    """The configured processor connector; the sandbox keeps its ledger in our database."""
    options: dict[str, object] = dict(settings.connector_values())
    if settings.connector == "sandbox":
        options.setdefault("database_url", settings.effective_database_url)
        options.setdefault("public_base", settings.effective_public_url)
    return get_connector(settings.connector, options)


def merchant_account(settings: Settings, merchant_id: str) -> str:
    """The processor-side account a merchant's payments go to: one sandbox account per
    merchant, or the account named in the connector options for a real processor."""
    if settings.connector == "sandbox":
        return account_for(merchant_id)
    return str(settings.connector_values().get("merchant_account", merchant_id))


def open_runtime(settings: Settings, *, check_schema: bool = True) -> Runtime:
    """Open everything the vault needs; raise a CardshieldError naming what is wrong."""
    engine = make_engine(settings.effective_database_url)
    if check_schema:
        check_current(engine)
    kms = open_kms(settings.effective_kms_url)
    kms.check()
    bind_key(engine, kms)  # audit entries written through this engine are MACs under it
    store: CVVStore = (
        RedisCVVStore.from_url(settings.redis_url) if settings.redis_url else MemoryCVVStore()
    )
    store.check()
    vault = Vault(engine, kms, store, vault_policy(settings))
    if check_schema:  # a database that is not migrated yet holds no data keys either
        with engine.connect() as conn:
            vault.keys.check_kek(conn)
    connector = connector_from(settings)
    payments = PaymentService(
        engine,
        vault,
        lambda merchant_id: (connector, merchant_account(settings, merchant_id)),
        lock_ttl=timedelta(seconds=settings.idempotency_lock_seconds),
    )
    return Runtime(
        settings, engine, kms, store, vault, payments, ApiKeyCache(settings.api_key_cache_seconds)
    )
