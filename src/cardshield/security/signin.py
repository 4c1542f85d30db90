"""Signing in: the password step, the second-factor step, TOTP enrollment, and lockout.

The console keeps the state between the steps in a database session
(:mod:`cardshield.security.sessions`):

1. :meth:`SignIn.check_password` -- the password;
2. :meth:`SignIn.check_second_factor` -- a TOTP code or an unused recovery code, or
   :meth:`SignIn.check_security_key` -- an answer from one of the operator's security keys;
   for an operator without TOTP yet, :meth:`SignIn.enroll_totp` with the first code of a
   new seed (security keys come after TOTP, never instead of it).

Every failed step counts against the account: the 10th failure in a row locks it for 30
minutes (PCI DSS 8.3.4), during which even the right password is refused. Each attempt is
counted (and committed) before its password or code is checked, and given back if it passes,
so requests sent at once get no more than 10 checks between them. The count resets
only after a complete sign-in, so knowing the password buys no extra guesses at the code.
Failures are committed (count and audit entry) before :class:`SignInFailed` is raised, and
that error is the same for every reason, so nothing tells which usernames exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, or_, select, update

from cardshield.crypto import Secret
from cardshield.crypto.kms.base import WrappedKey
from cardshield.security import events, security_keys, totp
from cardshield.security.audit import append as audit
from cardshield.security.errors import SignInFailed
from cardshield.security.operators import Operator, Operators, operator_from_row, seed_context
from cardshield.security.security_keys import RelyingParty
from cardshield.storage.schema import operator_recovery_codes, operators

MAX_FAILED_ATTEMPTS = 10
LOCKOUT = timedelta(minutes=30)


class SignIn:
    """The sign-in steps over the accounts in ``ops``."""

    def __init__(self, ops: Operators) -> None:
        self.ops = ops

    def _claim_attempt(self, now: datetime, *account: ColumnElement[bool]) -> bool:
        """Count one attempt for the account ``account`` selects, in its own transaction,
        committed before anything is checked; False when the account is locked (or not
        there). An expired lock starts a new count.

        The count is one conditional UPDATE: concurrent claims queue on the row (PostgreSQL's
        row lock, SQLite's single writer) and each sees the ones before it, so no more than
        MAX_FAILED_ATTEMPTS are ever granted, however many requests arrive at once. No lock
        is held while the code or password is checked (an argon2 hash takes a while).
        """
        c = operators.c
        expired = and_(c.locked_until.is_not(None), c.locked_until <= now)
        open_ = and_(c.locked_until.is_(None), c.failed_attempts < MAX_FAILED_ATTEMPTS)
        with self.ops.engine.begin() as conn:
            claimed = conn.execute(
                update(operators)
                .where(*account, c.disabled_at.is_(None), or_(expired, open_))
                .values(
                    failed_attempts=case((expired, 1), else_=c.failed_attempts + 1),
                    locked_until=case((expired, None), else_=c.locked_until),
                )
            )
        return claimed.rowcount == 1

    def _failed(
        self,
        conn: Connection,
        operator: Operator,
        now: datetime,
        claimed: bool,
        check: Callable[[], bool],
    ) -> bool:
        """Run ``check`` if an attempt was ``claimed`` (else the account is locked). True if
        it failed: the claimed attempt stays counted, and the account locks at the limit; a
        check that passes gives its attempt back.

        The caller commits its transaction either way (the audit entries must stay) and
        raises SignInFailed afterwards.
        """
        if not claimed:
            self._lock_if_due(conn, operator, now)
            audit(
                conn,
                now=now,
                actor=f"operator:{operator.id}",
                action="operator.login",
                outcome="locked",
                merchant_id=operator.merchant_id,
                target=operator.id,
            )
            return True
        if check():
            # Never below zero: a sign-in completed meanwhile may have reset the count.
            count = operators.c.failed_attempts
            conn.execute(
                update(operators)
                .where(operators.c.id == operator.id)
                .values(failed_attempts=case((count > 0, count - 1), else_=0))
            )
            return False
        self._lock_if_due(conn, operator, now)
        return True

    def _lock_if_due(self, conn: Connection, operator: Operator, now: datetime) -> None:
        locked_until = now + LOCKOUT
        locked = conn.execute(
            update(operators)
            .where(
                operators.c.id == operator.id,
                operators.c.failed_attempts >= MAX_FAILED_ATTEMPTS,
                operators.c.locked_until.is_(None),
            )
            .values(locked_until=locked_until)
        )
        if locked.rowcount == 1:
            audit(
                conn,
                now=now,
                actor="cardshield.lockout",
                action="operator.lockout",
                merchant_id=operator.merchant_id,
                target=operator.id,
                details={"failed_attempts": MAX_FAILED_ATTEMPTS, "until": locked_until.isoformat()},
            )
            events.emit(events.LOCKOUT, operator=operator.id, until=locked_until.isoformat())

    def check_password(
        self, *, now: datetime, username: str, password: Secret[str], ip: str | None = None
    ) -> Operator:
        """Step 1. The operator, or SignInFailed (the same for every reason)."""
        name = username.strip().lower()[:64]
        claimed = self._claim_attempt(now, operators.c.username == name)
        with self.ops.engine.begin() as conn:
            row = conn.execute(select(operators).where(operators.c.username == name)).first()
            operator = operator_from_row(row) if row is not None else None
            if operator is None or not operator.active:
                self.ops.hasher.verify(None, password.reveal())  # same time as a real check
                audit(
                    conn,
                    now=now,
                    actor="anonymous" if operator is None else f"operator:{operator.id}",
                    action="operator.login",
                    outcome="failure",
                    target=None if operator is None else operator.id,
                    details={"step": "password", "ip": ip, "username": name},
                )
                events.emit(events.LOGIN_FAILED, username=name, ip=ip, reason="unknown_or_disabled")
                failed = True
            else:
                stored: str = row.password_hash if row is not None else ""
                failed = self._failed(
                    conn,
                    operator,
                    now,
                    claimed,
                    lambda: self._password_ok(conn, operator, stored, password, now, ip),
                )
        if failed or operator is None:
            raise SignInFailed
        return operator

    def _password_ok(
        self,
        conn: Connection,
        operator: Operator,
        stored: str,
        password: Secret[str],
        now: datetime,
        ip: str | None,
    ) -> bool:
        if not self.ops.hasher.verify(stored, password.reveal()):
            audit(
                conn,
                now=now,
                actor=f"operator:{operator.id}",
                action="operator.login",
                outcome="failure",
                merchant_id=operator.merchant_id,
                target=operator.id,
                details={"step": "password", "ip": ip},
            )
            events.emit(
                events.LOGIN_FAILED, username=operator.username, ip=ip, reason="bad_password"
            )
            return False
        if self.ops.hasher.needs_rehash(stored):
            conn.execute(
                update(operators)
                .where(operators.c.id == operator.id)
                .values(password_hash=self.ops.hasher.hash(password.reveal()))
            )
        return True

    def check_second_factor(
        self,
        *,
        now: datetime,
        operator_id: str,
        code: str,
        ip: str | None = None,
        purpose: str = "login",
    ) -> Operator:
        """Step 2: a TOTP code (not used before) or an unused recovery code.

        ``purpose`` names the audit action on success: ``operator.login`` or, for a
        confirmation before a sensitive action, ``operator.reauth``.
        """
        return self._second_step(
            now=now,
            operator_id=operator_id,
            ip=ip,
            purpose=purpose,
            factor="code",
            verify=lambda conn, row: self._second_factor(conn, row, code, now),
        )

    def check_security_key(
        self,
        *,
        now: datetime,
        operator_id: str,
        rp: RelyingParty,
        challenge: bytes | None,
        response: str,
        ip: str | None = None,
        purpose: str = "login",
    ) -> Operator:
        """Step 2 with a security key: a ``navigator.credentials.get()`` answer (JSON) to
        ``challenge`` (None when the session had none open: a failure like any other)."""

        def verify(conn: Connection, row: Any) -> str | None:
            if challenge is None:
                return None
            key = security_keys.check_assertion(
                conn, rp, now=now, operator_id=row.id, challenge=challenge, response=response
            )
            return None if key is None else "security_key"

        return self._second_step(
            now=now,
            operator_id=operator_id,
            ip=ip,
            purpose=purpose,
            factor="security_key",
            verify=verify,
        )

    def _second_step(
        self,
        *,
        now: datetime,
        operator_id: str,
        ip: str | None,
        purpose: str,
        factor: str,
        verify: Callable[[Connection, Any], str | None],
    ) -> Operator:
        """The second factor for an operator with TOTP enrolled: ``verify`` names the method
        that matched, or None (counted as a failed attempt, like a wrong password)."""
        c = operators.c
        claimed = self._claim_attempt(now, c.id == operator_id, c.totp_secret.is_not(None))
        with self.ops.engine.begin() as conn:
            row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
            if row is None or row.disabled_at is not None or row.totp_secret is None:
                raise SignInFailed
            operator = operator_from_row(row)
            method: list[str] = []

            def check() -> bool:
                found = verify(conn, row)
                if found is None:
                    audit(
                        conn,
                        now=now,
                        actor=f"operator:{operator.id}",
                        action="operator.mfa",
                        outcome="failure",
                        merchant_id=operator.merchant_id,
                        target=operator.id,
                        details={"ip": ip, "factor": factor},
                    )
                    events.emit(events.MFA_FAILED, operator=operator.id, ip=ip, factor=factor)
                    return False
                method.append(found)
                return True

            if not self._failed(conn, operator, now, claimed, check):
                return self._signed_in(
                    conn, operator, now, method=method[0], ip=ip, action=f"operator.{purpose}"
                )
        raise SignInFailed

    def _second_factor(self, conn: Connection, row: Any, code: str, now: datetime) -> str | None:
        if totp.looks_like_recovery_code(code):
            used = conn.execute(
                update(operator_recovery_codes)
                .where(
                    operator_recovery_codes.c.operator_id == row.id,
                    operator_recovery_codes.c.code_hash == totp.hash_recovery_code(row.id, code),
                    operator_recovery_codes.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            return "recovery_code" if used.rowcount == 1 else None
        wrapped = WrappedKey.from_bytes(row.totp_secret)
        seed = Secret(self.ops.kms.unwrap(wrapped, context=seed_context(row.id)))
        step = totp.match_step(seed, code, now=now, last_step=row.totp_last_step)
        if step is None:
            return None
        # Conditional on the last step, so two requests racing with one code cannot both win.
        claimed = conn.execute(
            update(operators)
            .where(
                operators.c.id == row.id,
                or_(operators.c.totp_last_step.is_(None), operators.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        if claimed.rowcount != 1:
            return None
        if wrapped.kek_version != self.ops.kms.current_version():
            rewrapped = self.ops.kms.wrap(seed.reveal(), context=seed_context(row.id))
            conn.execute(
                update(operators)
                .where(operators.c.id == row.id)
                .values(totp_secret=rewrapped.to_bytes())
            )
        return "totp"

    def _signed_in(
        self,
        conn: Connection,
        operator: Operator,
        now: datetime,
        *,
        method: str,
        ip: str | None,
        action: str = "operator.login",
    ) -> Operator:
        conn.execute(
            update(operators)
            .where(operators.c.id == operator.id)
            .values(failed_attempts=0, locked_until=None, last_login_at=now)
        )
        details: dict[str, Any] = {"method": method, "ip": ip}
        if method == "recovery_code":
            details["recovery_codes_left"] = self.ops.recovery_codes_left(conn, operator.id)
        audit(
            conn,
            now=now,
            actor=f"operator:{operator.id}",
            action=action,
            merchant_id=operator.merchant_id,
            target=operator.id,
            details=details,
        )
        return replace(operator, failed_attempts=0, locked_until=None, last_login_at=now)

    def enroll_totp(
        self,
        *,
        now: datetime,
        operator_id: str,
        wrapped_seed: bytes,
        code: str,
        ip: str | None = None,
    ) -> tuple[Operator, list[Secret[str]]]:
        """Confirm a new seed with its first code; completes sign-in; new recovery codes."""
        seed = self.ops.unwrap_seed(operator_id, wrapped_seed)
        c = operators.c
        claimed = self._claim_attempt(now, c.id == operator_id, c.totp_secret.is_(None))
        with self.ops.engine.begin() as conn:
            row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
            # Enrolling replaces nothing: an operator who has a seed must use it (or have an
            # admin reset it), so a stolen password cannot be used to enroll a new device.
            if row is None or row.disabled_at is not None or row.totp_secret is not None:
                raise SignInFailed
            operator = operator_from_row(row)
            steps: list[int] = []

            def check() -> bool:
                step = totp.match_step(seed, code, now=now, last_step=None)
                if step is None:
                    audit(
                        conn,
                        now=now,
                        actor=f"operator:{operator.id}",
                        action="operator.mfa_enroll",
                        outcome="failure",
                        merchant_id=operator.merchant_id,
                        target=operator.id,
                        details={"ip": ip},
                    )
                    events.emit(events.MFA_FAILED, operator=operator.id, ip=ip, enroll=True)
                    return False
                steps.append(step)
                return True

            if not self._failed(conn, operator, now, claimed, check):
                step = steps[0]
                conn.execute(
                    update(operators)
                    .where(operators.c.id == operator_id)
                    .values(totp_secret=wrapped_seed, totp_enrolled_at=now, totp_last_step=step)
                )
                codes = self.ops.replace_recovery_codes(conn, operator_id, now)
                audit(
                    conn,
                    now=now,
                    actor=f"operator:{operator_id}",
                    action="operator.mfa_enroll",
                    merchant_id=operator.merchant_id,
                    target=operator_id,
                    details={"factor": "totp", "recovery_codes": len(codes)},
                )
                signed_in = self._signed_in(conn, operator, now, method="totp_enroll", ip=ip)
                return replace(signed_in, mfa_enrolled=True), codes
        raise SignInFailed
