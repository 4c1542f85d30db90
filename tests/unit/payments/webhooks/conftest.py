"""Fixtures for the webhook tests: a migrated database with merchants, and a receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, insert

from cardshield.payments.outbox import emit_event
from cardshield.payments.webhooks import create_endpoint
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import merchants
from tests.unit.payments.webhooks.receiver import Receiver

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MERCHANT = "mer_shop"


def _engine(url: str) -> Iterator[Engine]:
    eng = make_engine(url)
    upgrade(eng)
    with eng.begin() as conn:
        conn.execute(insert(merchants).values(id=MERCHANT, name="Shop", created_at=NOW))
        conn.execute(insert(merchants).values(id="mer_other", name="Other", created_at=NOW))
    yield eng
    eng.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """On SQLite and PostgreSQL: for what depends on the database (claims, leases, order)."""
    yield from _engine(database_url)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: for behaviour that does not depend on the database."""
    yield from _engine(f"sqlite:///{tmp_path / 'vault.db'}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The client the service delivers with: the pinned transport, loopback admitted (the
    receiver listens on 127.0.0.1)."""
    transport = PinnedTransport(allow_loopback=True, trust_env=False)
    with httpx.Client(transport=transport) as client:
        yield client


def add_endpoint(engine: Engine, url: str, events: tuple[str, ...] = ("*",)) -> tuple[str, str]:
    """A loopback endpoint; returns (id, secret)."""
    with engine.begin() as conn:
        created = create_endpoint(
            conn,
            merchant_id=MERCHANT,
            url=url,
            enabled_events=events,
            now=NOW,
            allow_http_loopback=True,
        )
    return created.endpoint.id, created.secret.reveal()


def emit(engine: Engine, type: str, object_id: str, **data: object) -> str:
    with engine.begin() as conn:
        return emit_event(
            conn,
            now=NOW,
            merchant_id=MERCHANT,
            type=type,
            object_id=object_id,
            data={"id": object_id, **data},
        )
