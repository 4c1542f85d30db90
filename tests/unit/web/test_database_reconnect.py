"""Connections are not pinged before use: when the server drops them, the requests that
held them get 503 database_unavailable, and the next ones run on fresh connections."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.apps import Api
from tests.databases import postgres_database

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}


@pytest.fixture
def database_url() -> Iterator[str]:  # PostgreSQL only: SQLite has no server to drop us
    yield from postgres_database()


def test_a_dropped_connection_is_a_503_then_the_pool_recovers(api: Api) -> None:
    assert api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()).status_code == 200
    admin_engine = create_engine(api.runtime.engine.url)  # not a connection of the app's pool
    with admin_engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        admin.commit()
    admin_engine.dispose()
    # The pooled connections are now dead; the first request to take one learns it.
    answers = [
        api.client.post("/v1/tokens", json={"card": CARD}, headers=api.pk()) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [503, 200, 200], [a.text for a in answers]
    assert answers[0].json()["error"]["code"] == "database_unavailable"
    assert answers[0].headers["retry-after"] == "1"
