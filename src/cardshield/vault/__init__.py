"""The token vault: tokenize, retrieve, use for forwarding, delete, purge; volatile CVVs."""

from __future__ import annotations

from cardshield.vault.cvv_store import CVVStore, MemoryCVVStore, RedisCVVStore
from cardshield.vault.service import CardData, CardRecord, Vault, VaultPolicy

__all__ = [
    "CVVStore",
    "CardData",
    "CardRecord",
    "MemoryCVVStore",
    "RedisCVVStore",
    "Vault",
    "VaultPolicy",
]
