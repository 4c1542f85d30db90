from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from cardshield.errors import ConfigError
from cardshield.phone.calls import _metadata as phone_metadata
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


def test_the_migrations_build_exactly_the_tables_the_code_declares(database_url: str) -> None:
    """Alembic's own comparison of the migrated database with every declared table (the core
    schema and the phone module's own): a column added to one and not the other fails."""
    engine = make_engine(database_url)
    upgrade(engine)
    declared = [metadata, phone_metadata]
    differences = []
    with engine.connect() as conn:
        for md in declared:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parents, md=md: (
                        kind != "table" or name in md.tables
                    ),
                },
            )
            for diff in compare_metadata(context, md):
                # A module's own metadata cannot name the core tables it points at (the
                # phone module's merchant_id): the migration's foreign key stays unmatched.
                outside = diff[0] == "remove_fk" and diff[1].referred_table.name not in md.tables
                if not outside:
                    differences.append(diff)
    engine.dispose()
    assert not differences, differences
