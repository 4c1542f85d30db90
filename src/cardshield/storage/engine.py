"""Engines for the two supported databases, configured the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cardshield.errors import ConfigError


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; busy_timeout makes writers queue
    # instead of failing; foreign keys are off by default in SQLite.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def normalize_url(url: str) -> str:
    """Pick our drivers: psycopg 3 for PostgreSQL, the stdlib sqlite3 for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


# At least as many connections as the API runs request threads (cardshield.web.app.
# REQUEST_THREADS) plus the background jobs: a pool smaller than its users makes them open and
# close overflow connections all the time.
DEFAULT_POOL_SIZE = 16


def make_engine(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql://...``), holding up to
    ``pool_size`` connections and half as many again in overflow."""
    overflow = max(1, pool_size // 2)
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL (CARDSHIELD_DATABASE_URL): {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=overflow)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # No pre-ping: it is one more round trip on every checkout, and a request checks out
        # at least once. A connection the server dropped fails its first statement instead;
        # SQLAlchemy then sees the disconnect and discards the whole pool, so only requests in
        # flight at that moment fail (503, safe to retry with their Idempotency-Key), and
        # pool_recycle retires connections before a firewall's idle timeout can drop them.
        return create_engine(parsed, pool_size=pool_size, max_overflow=overflow, pool_recycle=1800)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://"
    )
