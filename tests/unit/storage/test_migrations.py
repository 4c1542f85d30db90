from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from cardshield.errors import ConfigError
from cardshield.storage import check_current, make_engine, upgrade
from cardshield.storage.migrate import head_revision
from cardshield.storage.schema import metadata


def test_upgrade_creates_the_schema_and_no_cvv_column(database_url: str) -> None:
    engine = make_engine(database_url)
    with pytest.raises(ConfigError, match="cardshield db upgrade"):
        check_current(engine)
    upgrade(engine)
    check_current(engine)
    insp = inspect(engine)
    assert set(metadata.tables) <= set(insp.get_table_names())
    for table in insp.get_table_names():
        for col in insp.get_columns(table):
            name = col["name"].lower()
            assert not any(k in name for k in ("cvv", "cvc", "csc", "security_code"))
    upgrade(engine)  # idempotent
    engine.dispose()


def test_unknown_revision_refuses_to_start(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(ConfigError, match="unknown revision ffff"):
        check_current(engine)
    assert head_revision() != "ffff"
    engine.dispose()


def test_bad_url() -> None:
    with pytest.raises(ConfigError, match="unsupported database"):
        make_engine("mysql://x@localhost/db")
    with pytest.raises(ConfigError, match="invalid database URL"):
        make_engine("not a url")
