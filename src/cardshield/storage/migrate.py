"""Schema migrations: upgrade to head, and the start-up check that refuses a stale schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cardshield.errors import ConfigError

SCRIPT_LOCATION = "cardshield.storage:migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating it if empty)."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def check_current(engine: Engine) -> None:
    """Raise ConfigError unless the database is exactly at the head revision."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot reach the database: {type(exc).__name__}") from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise ConfigError("the database has no cardshield schema: run `cardshield db upgrade`")
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current in known:
        raise ConfigError(
            f"the database schema is at {current}, this cardshield needs {head}: "
            "run `cardshield db upgrade`"
        )
    raise ConfigError(
        f"the database schema is at unknown revision {current} (newer cardshield?): "
        "refusing to start"
    )
