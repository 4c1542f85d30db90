"""Fixtures for the security tests: a migrated database (SQLite and PostgreSQL) and a KMS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from cardshield.crypto.kms import KMSProvider, open_kms
from cardshield.security import append
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import merchants

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    with eng.begin() as conn:
        conn.execute(insert(merchants).values(id="m_1", name="Shop One", created_at=NOW))
        conn.execute(insert(merchants).values(id="m_2", name="Shop Two", created_at=NOW))
    yield eng
    eng.dispose()


@pytest.fixture
def kms() -> KMSProvider:
    return open_kms("memory:")


def append_many(engine: Engine, count: int, *, start: int = 0, at: datetime = NOW) -> list[int]:
    """``count`` entries, each in its own transaction; returns their sequence numbers."""
    seqs = []
    for i in range(start, start + count):
        with engine.begin() as conn:
            seqs.append(
                append(
                    conn,
                    now=at + timedelta(milliseconds=i),
                    actor=f"api_key:key_{i % 3}",
                    action="card.tokenize",
                    merchant_id=f"m_{1 + i % 2}",
                    target=f"tok_test{i:06d}",
                    details={"masked": "424242******4242", "n": i, "single_use": i % 2 == 0},
                )
            )
    return seqs
