from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cardshield.crypto.kms import open_kms
from cardshield.storage import make_engine, upgrade
from cardshield.vault import MemoryCVVStore, Vault

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def vault(database_url: str) -> Iterator[Vault]:
    engine = make_engine(database_url)
    upgrade(engine)
    v = Vault(engine, open_kms("memory:"), MemoryCVVStore())
    yield v
    engine.dispose()
