"""Real databases for tests: a SQLite file, a throwaway PostgreSQL database, and Redis.

PostgreSQL runs on 127.0.0.1:5432 (trust auth), Redis on 127.0.0.1:6379. Locally an
unreachable server skips the tests that need it; under CI (CI=true) it fails them, so they
can never silently vanish.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

REDIS_URL = os.environ.get("CARDSHIELD_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get(
    "CARDSHIELD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


def require_redis(url: str = REDIS_URL) -> str:
    """``url`` once Redis answers there (skipped locally, failed under CI otherwise)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI: {exc}")
        pytest.skip(f"Redis unavailable: {exc}")
    return url


def postgres_database() -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards."""
    name = "cs_test_" + secrets.token_hex(6)
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server
        _unavailable(f"{type(exc).__name__}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vault.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test against SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
    else:
        yield from postgres_database()


def dispose(engine: Engine) -> None:
    engine.dispose()
