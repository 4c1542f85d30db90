"""The database: engine set-up, the schema (SQLAlchemy Core) and its Alembic migrations.

One schema serves SQLite (embedded default, WAL) and PostgreSQL (production). Every table
that holds merchant data carries ``merchant_id``. No table has a column for a security code.
"""

from __future__ import annotations

from cardshield.storage.engine import make_engine
from cardshield.storage.migrate import check_current, upgrade

__all__ = ["check_current", "make_engine", "upgrade"]
