"""Helpers for the operator-account tests: cheap argon2 parameters and TOTP codes by time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, insert, select

from cardshield.crypto import Secret
from cardshield.crypto.kms import KMSProvider
from cardshield.security import totp
from cardshield.security.operators import Operator, Operators
from cardshield.security.passwords import PasswordHasher
from cardshield.security.signin import SignIn
from cardshield.storage import make_engine, upgrade
from cardshield.storage.schema import (
    audit_checkpoints,
    audit_log,
    merchants,
    operator_recovery_codes,
    operator_security_keys,
    operator_sessions,
    operators,
)
from tests.databases import postgres_database

# Real argon2id, with test-sized memory and time: the stored hash records its parameters.
FAST_HASHER = PasswordHasher(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "violet-anchor-meadow-42"


def accounts(engine: Engine, kms: KMSProvider) -> tuple[Operators, SignIn]:
    ops = Operators(engine, kms, hasher=FAST_HASHER)
    return ops, SignIn(ops)


def enrolled(
    ops: Operators, signin: SignIn, *, now: datetime, username: str, role: str = "operator"
) -> tuple[Operator, Secret[bytes], list[Secret[str]]]:
    """An operator with TOTP enrolled (the first code used at ``now``)."""
    op = ops.create(now=now, username=username, password=Secret(PASSWORD), role=role)
    seed = totp.new_seed()
    wrapped = ops.wrap_seed(op.id, seed)
    code = totp.code_at(seed, totp.step_at(now))
    op, codes = signin.enroll_totp(now=now, operator_id=op.id, wrapped_seed=wrapped, code=code)
    return op, seed, codes


def code(seed: Secret[bytes], at: datetime) -> str:
    return totp.code_at(seed, totp.step_at(at))


def actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.outcome).order_by(audit_log.c.seq)
        )
        return [(r.action, r.outcome) for r in rows]


MERCHANTS_AT = datetime(2026, 1, 1, tzinfo=UTC)


def clear(engine: Engine) -> None:
    """Empty the tables these tests write (the schema stays: migrating is the slow part)."""
    with engine.begin() as conn:
        for table in (
            operator_security_keys,
            operator_sessions,
            operator_recovery_codes,
            operators,
            audit_checkpoints,
            audit_log,
        ):
            conn.execute(delete(table))


def shared_database() -> Callable[..., Iterator[Engine]]:
    """A module-scoped fixture: one migrated SQLite and one PostgreSQL database per module,
    with merchants m_1 and m_2, emptied of operators and audit entries after each use."""

    @pytest.fixture(scope="module", params=["sqlite", "postgresql"])
    def migrated(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Engine]:
        if request.param == "sqlite":
            urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('ops')}/db.sqlite"])
        else:
            urls = postgres_database()
        url = next(urls)
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            for mid in ("m_1", "m_2"):
                conn.execute(insert(merchants).values(id=mid, name=mid, created_at=MERCHANTS_AT))
        yield engine
        engine.dispose()
        for _ in urls:  # finish the generator: drops the PostgreSQL database
            pass

    return migrated
