"""Operator accounts: one per person, argon2id passwords, roles, TOTP seeds, recovery codes.

:class:`Operators` creates and changes accounts (role, disable/enable, password, MFA reset);
signing in is :mod:`cardshield.security.signin`. Every change writes one audit entry in the
same transaction, and every change that affects what a person may do (role, disable,
password, MFA reset) ends that person's console sessions too. The last active admin cannot
be demoted or disabled, so the console can never lock everyone out.

The TOTP seed is stored wrapped by the KMS (context bound to the operator id) and re-wrapped
under the newest KEK version when it is used. Retiring a KEK version before every operator
has signed in since its rotation leaves those operators to ``cardshield users reset-mfa``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from cardshield.crypto import Secret
from cardshield.crypto.kms import KMSProvider
from cardshield.crypto.kms.base import WrappedKey
from cardshield.crypto.tokens import random_token
from cardshield.errors import InvalidRequestError
from cardshield.security import events, security_keys, totp
from cardshield.security.audit import append as audit
from cardshield.security.errors import OperatorExists, OperatorNotFound
from cardshield.security.passwords import PasswordHasher, check_policy, default_hasher
from cardshield.security.permissions import Role, parse_role
from cardshield.storage.schema import (
    merchants,
    operator_recovery_codes,
    operator_sessions,
    operators,
)

_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@dataclass(frozen=True)
class Operator:
    """An account as the rest of cardshield sees it (no hash, no seed)."""

    id: str
    username: str
    display_name: str
    role: Role
    merchant_id: str | None  # None: the operator works across every merchant
    mfa_enrolled: bool
    failed_attempts: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def operator_from_row(row: Any) -> Operator:
    try:
        role = Role(row.role)
    except ValueError:  # written by a newer version; treat as no known role
        role = Role.AGENT
    return Operator(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=role,
        merchant_id=row.merchant_id,
        mfa_enrolled=row.totp_secret is not None,
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def normalize_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 64 or not set(name) <= _USERNAME_CHARS:
        raise InvalidRequestError(
            "A username has 3 to 64 characters: letters, digits, '.', '_', '-', '@'.",
            param="username",
        )
    return name


def seed_context(operator_id: str) -> bytes:
    return b"cardshield.operator.totp:" + operator_id.encode()


def revoke_sessions(conn: Connection, operator_id: str) -> int:
    """End every console session of the operator (sign out everywhere)."""
    result = conn.execute(
        delete(operator_sessions).where(operator_sessions.c.operator_id == operator_id)
    )
    return int(result.rowcount or 0)


class Operators:
    """Account operations over ``engine``; ``kms`` wraps TOTP seeds."""

    def __init__(
        self, engine: Engine, kms: KMSProvider, *, hasher: PasswordHasher | None = None
    ) -> None:
        self.engine = engine
        self.kms = kms
        self.hasher = hasher or default_hasher()

    # -- reading --------------------------------------------------------------------------

    def get(self, conn: Connection, operator_id: str) -> Operator:
        row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
        if row is None:
            raise OperatorNotFound(param="operator")
        return operator_from_row(row)

    def find(self, conn: Connection, username_or_id: str) -> Operator:
        """By id (``op_...``) or username."""
        key = username_or_id.strip()
        row = conn.execute(
            select(operators).where(or_(operators.c.id == key, operators.c.username == key.lower()))
        ).first()
        if row is None:
            raise OperatorNotFound(param="operator")
        return operator_from_row(row)

    def all(self, conn: Connection) -> list[Operator]:
        rows = conn.execute(select(operators).order_by(operators.c.username))
        return [operator_from_row(r) for r in rows]

    # -- account management ---------------------------------------------------------------

    def create(
        self,
        *,
        now: datetime,
        username: str,
        password: Secret[str],
        role: Role | str,
        display_name: str = "",
        merchant_id: str | None = None,
        actor: str = "system",
    ) -> Operator:
        name = normalize_username(username)
        checked_role = role if isinstance(role, Role) else _role(role)
        check_policy(password.reveal(), username=name)
        password_hash = self.hasher.hash(password.reveal())
        operator_id = random_token(prefix="op_")
        with self.engine.begin() as conn:
            if merchant_id is not None:
                _check_merchant(conn, merchant_id)
            values = {
                "id": operator_id,
                "username": name,
                "display_name": (display_name.strip() or name)[:200],
                "role": checked_role.value,
                "merchant_id": merchant_id,
                "password_hash": password_hash,
                "password_changed_at": now,
                "failed_attempts": 0,
                "created_at": now,
            }
            try:
                with conn.begin_nested():
                    conn.execute(insert(operators).values(**values))
            except IntegrityError:
                raise OperatorExists(param="username") from None
            audit(
                conn,
                now=now,
                actor=actor,
                action="operator.create",
                merchant_id=merchant_id,
                target=operator_id,
                details={"username": name, "role": checked_role.value},
            )
            return self.get(conn, operator_id)

    def _change(
        self,
        *,
        now: datetime,
        operator_id: str,
        actor: str,
        action: str,
        values: dict[str, Any],
        details: dict[str, Any] | None = None,
        also: Callable[[Connection], object] | None = None,
    ) -> Operator:
        with self.engine.begin() as conn:
            before = self.get(conn, operator_id)
            conn.execute(update(operators).where(operators.c.id == operator_id).values(**values))
            if also is not None:
                also(conn)
            revoke_sessions(conn, operator_id)
            audit(
                conn,
                now=now,
                actor=actor,
                action=action,
                merchant_id=before.merchant_id,
                target=operator_id,
                details={"username": before.username, **(details or {})},
            )
            return self.get(conn, operator_id)

    def set_role(
        self, *, now: datetime, operator_id: str, role: Role | str, actor: str
    ) -> Operator:
        new = role if isinstance(role, Role) else _role(role)
        with self.engine.connect() as conn:
            before = self.get(conn, operator_id)
            if before.role == Role.ADMIN and new != Role.ADMIN:
                self._keep_an_admin(conn, operator_id)
        return self._change(
            now=now,
            operator_id=operator_id,
            actor=actor,
            action="operator.role_change",
            values={"role": new.value},
            details={"from": before.role.value, "to": new.value},
        )

    def disable(self, *, now: datetime, operator_id: str, actor: str) -> Operator:
        with self.engine.connect() as conn:
            if self.get(conn, operator_id).role == Role.ADMIN:
                self._keep_an_admin(conn, operator_id)
        return self._change(
            now=now,
            operator_id=operator_id,
            actor=actor,
            action="operator.disable",
            values={"disabled_at": now},
        )

    def enable(self, *, now: datetime, operator_id: str, actor: str) -> Operator:
        return self._change(
            now=now,
            operator_id=operator_id,
            actor=actor,
            action="operator.enable",
            values={"disabled_at": None, "failed_attempts": 0, "locked_until": None},
        )

    def reset_mfa(self, *, now: datetime, operator_id: str, actor: str) -> Operator:
        """Forget the TOTP seed, recovery codes and security keys; the next sign-in enrolls
        again. (A person who lost their phone may have lost their key with it.)"""

        def forget(conn: Connection) -> None:
            conn.execute(
                delete(operator_recovery_codes).where(
                    operator_recovery_codes.c.operator_id == operator_id
                )
            )
            security_keys.remove_all(conn, operator_id)

        reset = self._change(
            now=now,
            operator_id=operator_id,
            actor=actor,
            action="operator.mfa_reset",
            values={"totp_secret": None, "totp_enrolled_at": None, "totp_last_step": None},
            also=forget,
        )
        events.emit(events.MFA_CHANGED, operator=operator_id, change="reset", actor=actor)
        return reset

    def set_password(
        self, *, now: datetime, operator_id: str, password: Secret[str], actor: str
    ) -> Operator:
        with self.engine.connect() as conn:
            username = self.get(conn, operator_id).username
        check_policy(password.reveal(), username=username)
        return self._change(
            now=now,
            operator_id=operator_id,
            actor=actor,
            action="operator.password_change",
            values={
                "password_hash": self.hasher.hash(password.reveal()),
                "password_changed_at": now,
            },
        )

    def _keep_an_admin(self, conn: Connection, operator_id: str) -> None:
        others = conn.execute(
            select(func.count())
            .select_from(operators)
            .where(
                operators.c.role == Role.ADMIN.value,
                operators.c.disabled_at.is_(None),
                operators.c.id != operator_id,
            )
        ).scalar_one()
        if not others:
            raise InvalidRequestError(
                "This is the last active admin: make someone else admin first.", param="role"
            )

    def recovery_codes_left(self, conn: Connection, operator_id: str) -> int:
        return int(
            conn.execute(
                select(func.count())
                .select_from(operator_recovery_codes)
                .where(
                    operator_recovery_codes.c.operator_id == operator_id,
                    operator_recovery_codes.c.used_at.is_(None),
                )
            ).scalar_one()
        )

    def wrap_seed(self, operator_id: str, seed: Secret[bytes]) -> bytes:
        return self.kms.wrap(seed.reveal(), context=seed_context(operator_id)).to_bytes()

    def unwrap_seed(self, operator_id: str, wrapped: bytes) -> Secret[bytes]:
        blob = WrappedKey.from_bytes(wrapped)
        return Secret(self.kms.unwrap(blob, context=seed_context(operator_id)))

    def regenerate_recovery_codes(
        self, *, now: datetime, operator_id: str, actor: str
    ) -> list[Secret[str]]:
        with self.engine.begin() as conn:
            operator = self.get(conn, operator_id)
            codes = self.replace_recovery_codes(conn, operator_id, now)
            audit(
                conn,
                now=now,
                actor=actor,
                action="operator.recovery_codes",
                merchant_id=operator.merchant_id,
                target=operator_id,
                details={"count": len(codes)},
            )
            return codes

    def replace_recovery_codes(
        self, conn: Connection, operator_id: str, now: datetime
    ) -> list[Secret[str]]:
        conn.execute(
            delete(operator_recovery_codes).where(
                operator_recovery_codes.c.operator_id == operator_id
            )
        )
        codes = totp.new_recovery_codes()
        conn.execute(
            insert(operator_recovery_codes),
            [
                {
                    "operator_id": operator_id,
                    "code_hash": totp.hash_recovery_code(operator_id, c.reveal()),
                    "created_at": now,
                }
                for c in codes
            ],
        )
        return codes


def _role(value: str) -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="role") from None


def _check_merchant(conn: Connection, merchant_id: str) -> None:
    found = conn.execute(
        select(merchants.c.id).where(
            merchants.c.id == merchant_id, merchants.c.deleted_at.is_(None)
        )
    ).first()
    if found is None:
        raise InvalidRequestError("No such merchant.", param="merchant_id")
