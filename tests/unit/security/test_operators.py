"""Operator accounts and signing in: MFA is required, wrong codes fail, recovery codes work
once, lockout triggers and expires, every step is audited. Time is passed in throughout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cardshield.crypto import Secret
from cardshield.crypto.kms import KMSProvider
from cardshield.crypto.kms.base import WrappedKey
from cardshield.errors import InvalidRequestError
from cardshield.security import sessions, totp
from cardshield.security.errors import OperatorExists, SignInFailed, WeakPassword
from cardshield.security.signin import LOCKOUT, MAX_FAILED_ATTEMPTS
from cardshield.storage.schema import operators
from tests.unit.security.conftest import NOW
from tests.unit.security.operator_support import (
    PASSWORD,
    accounts,
    actions,
    clear,
    code,
    enrolled,
    shared_database,
)

migrated = shared_database()


@pytest.fixture
def engine(migrated: Engine) -> Iterator[Engine]:
    yield migrated
    clear(migrated)


def test_create_checks_policy_uniqueness_and_audits(engine: Engine, kms: KMSProvider) -> None:
    ops, _ = accounts(engine, kms)
    with pytest.raises(WeakPassword, match="at least 12"):
        ops.create(now=NOW, username="ann", password=Secret("short-one"), role="admin")
    with pytest.raises(WeakPassword, match="commonly used"):
        ops.create(now=NOW, username="ann", password=Secret("Password1234!"), role="admin")
    with pytest.raises(WeakPassword, match="username"):
        ops.create(now=NOW, username="annabel", password=Secret("annabel-is-great"), role="admin")
    with pytest.raises(InvalidRequestError, match="unknown role"):
        ops.create(now=NOW, username="ann", password=Secret(PASSWORD), role="root")
    with pytest.raises(InvalidRequestError, match="No such merchant"):
        ops.create(
            now=NOW, username="ann", password=Secret(PASSWORD), role="agent", merchant_id="m_9"
        )
    op = ops.create(now=NOW, username=" Ann ", password=Secret(PASSWORD), role="Auditor")
    assert (op.username, op.role.value, op.mfa_enrolled) == ("ann", "auditor", False)
    with pytest.raises(OperatorExists):
        ops.create(now=NOW, username="ANN", password=Secret(PASSWORD), role="agent")
    with engine.connect() as conn:
        stored = conn.execute(select(operators.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert actions(engine) == [("operator.create", "success")]


def test_password_step_fails_the_same_way_for_every_reason(
    engine: Engine, kms: KMSProvider
) -> None:
    ops, signin = accounts(engine, kms)
    op = ops.create(now=NOW, username="bob", password=Secret(PASSWORD), role="operator")
    assert signin.check_password(now=NOW, username="BOB", password=Secret(PASSWORD)).id == op.id
    messages = set()
    for username, password in (("bob", "wrong-password-1"), ("nobody", PASSWORD)):
        with pytest.raises(SignInFailed) as info:
            signin.check_password(now=NOW, username=username, password=Secret(password))
        messages.add(info.value.message)
    ops.disable(now=NOW, operator_id=op.id, actor="test")
    with pytest.raises(SignInFailed) as info:
        signin.check_password(now=NOW, username="bob", password=Secret(PASSWORD))
    messages.add(info.value.message)
    assert len(messages) == 1
    assert [a for a in actions(engine) if a[0] == "operator.login"] == [
        ("operator.login", "failure")
    ] * 3


def test_mfa_is_required_and_wrong_or_replayed_codes_fail(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    op = ops.create(now=NOW, username="cat", password=Secret(PASSWORD), role="operator")
    # Without an enrolled seed there is no second factor to pass: only enrollment.
    with pytest.raises(SignInFailed):
        signin.check_second_factor(now=NOW, operator_id=op.id, code="123456")
    op, seed, _ = enrolled(ops, signin, now=NOW, username="dan")
    later = NOW + timedelta(minutes=2)
    wrong = f"{(int(code(seed, later)) + 1) % 1_000_000:06d}"
    for bad in (wrong, "", "abcdef", "1234567", code(seed, later - timedelta(minutes=5))):
        with pytest.raises(SignInFailed):
            signin.check_second_factor(now=later, operator_id=op.id, code=bad)
    good = code(seed, later)
    assert signin.check_second_factor(now=later, operator_id=op.id, code=good).id == op.id
    with pytest.raises(SignInFailed):  # the same code again: replay
        signin.check_second_factor(now=later + timedelta(seconds=5), operator_id=op.id, code=good)
    # One step of clock drift is accepted (a newer step than the last one used).
    drift = later + timedelta(seconds=totp.STEP_SECONDS * 2)
    ahead = code(seed, drift + timedelta(seconds=totp.STEP_SECONDS))
    assert signin.check_second_factor(now=drift, operator_id=op.id, code=ahead).id == op.id
    logins = [a for a in actions(engine) if a[0] in ("operator.login", "operator.mfa")]
    assert logins.count(("operator.mfa", "failure")) == 6
    assert logins.count(("operator.login", "success")) == 3  # enroll + two codes


def test_recovery_code_works_once(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    op, _, codes = enrolled(ops, signin, now=NOW, username="eve")
    assert len(codes) == 10 and len({c.reveal() for c in codes}) == 10
    first = codes[0].reveal()
    assert signin.check_second_factor(now=NOW, operator_id=op.id, code=first.upper()).id == op.id
    with pytest.raises(SignInFailed):
        signin.check_second_factor(now=NOW, operator_id=op.id, code=first)
    # Another operator's code is not this operator's code.
    other, _, other_codes = enrolled(ops, signin, now=NOW, username="fay")
    with pytest.raises(SignInFailed):
        signin.check_second_factor(now=NOW, operator_id=op.id, code=other_codes[0].reveal())
    assert signin.check_second_factor(now=NOW, operator_id=op.id, code=codes[1].reveal())
    with engine.connect() as conn:
        assert ops.recovery_codes_left(conn, op.id) == 8
        assert ops.recovery_codes_left(conn, other.id) == 10


def test_enrolling_cannot_replace_an_existing_seed(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    op, seed, _ = enrolled(ops, signin, now=NOW, username="gus")
    attacker_seed = totp.new_seed()
    with pytest.raises(SignInFailed):
        signin.enroll_totp(
            now=NOW,
            operator_id=op.id,
            wrapped_seed=ops.wrap_seed(op.id, attacker_seed),
            code=code(attacker_seed, NOW),
        )
    later = NOW + timedelta(minutes=1)
    assert signin.check_second_factor(now=later, operator_id=op.id, code=code(seed, later))


def test_lockout_triggers_after_ten_failures_and_expires(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    op, seed, _ = enrolled(ops, signin, now=NOW, username="hal")
    at = NOW + timedelta(minutes=1)
    # Wrong passwords and wrong codes count alike; a right password does not reset the count.
    for i in range(MAX_FAILED_ATTEMPTS - 1):
        attempt = (
            (
                lambda: signin.check_password(
                    now=at, username="hal", password=Secret("not-it-at-all")
                )
            )
            if i % 2
            else (lambda: signin.check_second_factor(now=at, operator_id=op.id, code="000000"))
        )
        with pytest.raises(SignInFailed):
            attempt()
    assert signin.check_password(now=at, username="hal", password=Secret(PASSWORD))
    with engine.connect() as conn:
        assert ops.get(conn, op.id).failed_attempts == MAX_FAILED_ATTEMPTS - 1
        assert not ops.get(conn, op.id).locked(at)
    with pytest.raises(SignInFailed):
        signin.check_password(now=at, username="hal", password=Secret("not-the-password"))
    with engine.connect() as conn:
        locked = ops.get(conn, op.id)
    assert locked.locked(at) and locked.locked_until == at + LOCKOUT
    # Locked: even the right password and a right code are refused, until it expires.
    just_before = at + LOCKOUT - timedelta(seconds=1)
    with pytest.raises(SignInFailed):
        signin.check_password(now=just_before, username="hal", password=Secret(PASSWORD))
    with pytest.raises(SignInFailed):
        signin.check_second_factor(now=just_before, operator_id=op.id, code=code(seed, just_before))
    after = at + LOCKOUT
    assert signin.check_password(now=after, username="hal", password=Secret(PASSWORD))
    assert signin.check_second_factor(now=after, operator_id=op.id, code=code(seed, after))
    with engine.connect() as conn:
        fresh = ops.get(conn, op.id)
    assert (fresh.failed_attempts, fresh.locked_until) == (0, None)
    log = actions(engine)
    assert log.count(("operator.lockout", "success")) == 1
    assert log.count(("operator.login", "locked")) == 2


def test_a_failure_after_an_expired_lock_starts_a_new_count(
    engine: Engine, kms: KMSProvider
) -> None:
    ops, signin = accounts(engine, kms)
    op = ops.create(now=NOW, username="ida", password=Secret(PASSWORD), role="agent")
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(SignInFailed):
            signin.check_password(now=NOW, username="ida", password=Secret("nope-nope-nope"))
    after = NOW + LOCKOUT + timedelta(minutes=1)
    with pytest.raises(SignInFailed):
        signin.check_password(now=after, username="ida", password=Secret("nope-nope-nope"))
    with engine.connect() as conn:
        again = ops.get(conn, op.id)
    assert again.failed_attempts == 1 and not again.locked(after)


def _wrong_code(seed: Secret[bytes], at: datetime) -> str:
    """A code that no step around ``at`` accepts."""
    valid = {code(seed, at + timedelta(seconds=d * totp.STEP_SECONDS)) for d in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


def test_parallel_wrong_codes_never_check_more_codes_than_the_limit(
    engine: Engine, kms: KMSProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 wrong codes at once, each in its own thread, connection and transaction: the
    attempt is counted before its code is checked, so no more than the limit are checked,
    every request fails the same way, and the account ends locked."""
    ops, signin = accounts(engine, kms)
    op, seed, _ = enrolled(ops, signin, now=NOW, username="pat")
    at = NOW + timedelta(minutes=1)
    wrong = _wrong_code(seed, at)
    checked: list[str] = []
    real_match = totp.match_step

    def counted(seed: Secret[bytes], candidate: str, **kwargs: Any) -> int | None:
        checked.append(candidate)  # list.append is atomic under the GIL
        time.sleep(0.005)  # the time a slower check would take: the window for a race
        return real_match(seed, candidate, **kwargs)

    monkeypatch.setattr(totp, "match_step", counted)
    parallel = 50
    start = threading.Barrier(parallel)

    def attempt(_: int) -> str:
        start.wait()
        try:
            signin.check_second_factor(now=at, operator_id=op.id, code=wrong)
        except SignInFailed:
            return "refused"
        return "signed in"

    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(attempt, range(parallel)))
    assert results == ["refused"] * parallel
    assert len(checked) == MAX_FAILED_ATTEMPTS, len(checked)
    with engine.connect() as conn:
        account = ops.get(conn, op.id)
    assert account.failed_attempts == MAX_FAILED_ATTEMPTS and account.locked(at)
    log = actions(engine)
    assert log.count(("operator.mfa", "failure")) == MAX_FAILED_ATTEMPTS
    assert log.count(("operator.lockout", "success")) == 1
    assert log.count(("operator.login", "locked")) == parallel - MAX_FAILED_ATTEMPTS


def test_account_changes_end_sessions_and_keep_an_admin(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    admin, _, _ = enrolled(ops, signin, now=NOW, username="root1", role="admin")
    with pytest.raises(InvalidRequestError, match="last active admin"):
        ops.set_role(now=NOW, operator_id=admin.id, role="auditor", actor="test")
    with pytest.raises(InvalidRequestError, match="last active admin"):
        ops.disable(now=NOW, operator_id=admin.id, actor="test")
    op, _, _ = enrolled(ops, signin, now=NOW, username="jon", role="operator")
    with engine.begin() as conn:
        sessions.start(conn, now=NOW, operator_id=op.id, stage="active")
        sessions.start(conn, now=NOW, operator_id=op.id, stage="active")
        assert sessions.count_for(conn, op.id) == 2
    changed = ops.set_role(now=NOW, operator_id=op.id, role="developer", actor="operator:x")
    assert changed.role.value == "developer"
    with engine.connect() as conn:
        assert sessions.count_for(conn, op.id) == 0
    reset = ops.reset_mfa(now=NOW, operator_id=op.id, actor="test")
    assert not reset.mfa_enrolled
    with engine.connect() as conn:
        assert ops.recovery_codes_left(conn, op.id) == 0
    log = actions(engine)
    assert ("operator.role_change", "success") in log and ("operator.mfa_reset", "success") in log


def test_seed_is_wrapped_and_rewrapped_after_kek_rotation(engine: Engine, kms: KMSProvider) -> None:
    ops, signin = accounts(engine, kms)
    op, seed, _ = enrolled(ops, signin, now=NOW, username="kim")
    with engine.connect() as conn:
        stored = conn.execute(select(operators.c.totp_secret)).scalar_one()
    assert seed.reveal() not in stored and totp.seed_base32(seed).encode() not in stored
    assert WrappedKey.from_bytes(stored).kek_version == kms.current_version()
    new_version = kms.rotate()
    later = NOW + timedelta(minutes=1)
    signin.check_second_factor(now=later, operator_id=op.id, code=code(seed, later))
    with engine.connect() as conn:
        rewrapped = conn.execute(select(operators.c.totp_secret)).scalar_one()
    assert WrappedKey.from_bytes(rewrapped).kek_version == new_version
