"""The scratch merchant the canary flows run as: created for one report, then deleted with
its data keys destroyed (crypto-shredding), its API keys revoked and its webhook endpoint
disabled, its voice-platform credentials revoked and Connect keys retired, so the run leaves
no usable card data and no live credential behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from cardshield.config import Settings
from cardshield.phone.connect import ConnectKeys
from cardshield.phone.connect.keys import RETIRED
from cardshield.phone.connect.signing_secrets import list_secrets, revoke_secret
from cardshield.phone.pay_connector.credentials import list_credentials, revoke_credential
from cardshield.runtime import Runtime, open_runtime
from cardshield.security.apikeys import revoke
from cardshield.storage.schema import api_keys, cards, data_keys, webhook_endpoints


@dataclass
class Cleanup:
    merchant_id: str
    cards_in_vault: int  # canary ciphertexts the vault held before deletion
    cards_removed: int
    data_keys_destroyed: int
    data_keys_left_readable: int
    api_keys_revoked: int
    webhook_endpoints_disabled: int

    @property
    def ok(self) -> bool:
        return self.data_keys_left_readable == 0 and self.data_keys_destroyed > 0

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__ | {"ok": self.ok}


def create_scratch(settings: Settings, name: str, now: datetime) -> str:
    rt = open_runtime(settings)
    try:
        return rt.vault.create_merchant(name, now=now, actor="report")
    finally:
        rt.close()


def count_cards(settings: Settings, merchant_id: str) -> int:
    rt = open_runtime(settings)
    try:
        with rt.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(cards.c.merchant_id == merchant_id)
                ).scalar_one()
            )
    finally:
        rt.close()


def _close_platform_credentials(
    rt: Runtime, conn: Connection, merchant_id: str, now: datetime
) -> None:
    """The voice platforms' credentials of the scratch merchant: the pay connector's Basic
    credentials revoked, Connect's signing secrets revoked and its keys retired (erased)."""
    for credential in list_credentials(conn, merchant_id=merchant_id):
        if credential.revoked_at is None:
            revoke_credential(
                conn, now=now, merchant_id=merchant_id, username=credential.username, actor="report"
            )
    for secret in list_secrets(conn, merchant_id=merchant_id):
        if secret.revoked_at is None:
            revoke_secret(
                conn, merchant_id=merchant_id, secret_id=secret.id, now=now, actor="report"
            )
    keys = ConnectKeys(rt.vault.keys)
    for key in keys.list(conn, merchant_id=merchant_id):
        if key.status != RETIRED:
            keys.retire(conn, merchant_id=merchant_id, key_id=key.id, now=now, actor="report")


def delete_scratch(settings: Settings, merchant_id: str, now: datetime) -> Cleanup:
    """Revoke, disable, delete and crypto-shred everything of the scratch merchant."""
    held = count_cards(settings, merchant_id)
    rt = open_runtime(settings)
    try:
        with rt.engine.begin() as conn:
            ids = [
                r.id
                for r in conn.execute(
                    select(api_keys.c.id).where(
                        api_keys.c.merchant_id == merchant_id, api_keys.c.revoked_at.is_(None)
                    )
                )
            ]
            for key_id in ids:
                revoke(conn, now=now, merchant_id=merchant_id, key_id=key_id, actor="report")
            _close_platform_credentials(rt, conn, merchant_id, now)
            disabled = conn.execute(
                update(webhook_endpoints)
                .where(
                    webhook_endpoints.c.merchant_id == merchant_id,
                    webhook_endpoints.c.disabled_at.is_(None),
                )
                .values(disabled_at=now)
            ).rowcount
        removed = rt.vault.delete_merchant(merchant_id, now=now, actor="report")
        with rt.engine.connect() as conn:
            destroyed = int(
                conn.execute(
                    select(func.count()).where(
                        data_keys.c.merchant_id == merchant_id,
                        data_keys.c.destroyed_at.is_not(None),
                    )
                ).scalar_one()
            )
            readable = int(
                conn.execute(
                    select(func.count()).where(
                        data_keys.c.merchant_id == merchant_id, data_keys.c.wrapped.is_not(None)
                    )
                ).scalar_one()
            )
    finally:
        rt.close()
    return Cleanup(merchant_id, held, removed, destroyed, readable, len(ids), int(disabled))
