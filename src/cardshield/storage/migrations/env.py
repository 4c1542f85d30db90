"""Alembic environment: runs against the connection cardshield hands it (see migrate.py)."""

from __future__ import annotations

from alembic import context

from cardshield.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through cardshield.storage.migrate
    raise RuntimeError("run migrations with `cardshield db upgrade`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
)
with context.begin_transaction():
    context.run_migrations()
