"""Phase 1 of the recoverable phases: the rows written, and committed, before a gateway call.

:func:`open_payment` writes a new payment with its ``pending`` authorize/verify operation;
:func:`reserve_follow_up` checks a capture, void or refund against the payment, reserves
the payment at its version (a concurrent request sees a newer one and re-reads) and writes
the ``pending`` operation (and the pending refund). The operation carries the key the
gateway will see. Phase 3 is :mod:`cardshield.payments.record`. Reads used by both live here.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, and_, func, or_, select, update

from cardshield.payments.errors import (
    OperationInProgress,
    PaymentConflict,
    PaymentNotFound,
    RefundNotFound,
)
from cardshield.payments.states import (
    Current,
    Operation,
    PaymentStatus,
    capture_amount,
    refund_amount,
    require,
)
from cardshield.payments.views import RefundView
from cardshield.security.audit import append as audit
from cardshield.storage.schema import payment_operations as O
from cardshield.storage.schema import payments as P
from cardshield.storage.schema import refunds as R
from cardshield.vault.service import CardRecord

_ATTEMPTS = 8


class VersionConflict(Exception):
    """The payment changed since it was read; the caller re-reads and tries again."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def load_payment(conn: Connection, merchant_id: str, payment_id: str) -> RowMapping:
    row = (
        conn.execute(select(P).where(P.c.id == payment_id, P.c.merchant_id == merchant_id))
        .mappings()
        .first()
    )
    if row is None:
        raise PaymentNotFound(param="id")
    return row


def load_refund(conn: Connection, merchant_id: str, refund_id: str) -> RowMapping:
    row = (
        conn.execute(select(R).where(R.c.id == refund_id, R.c.merchant_id == merchant_id))
        .mappings()
        .first()
    )
    if row is None:
        raise RefundNotFound(param="id")
    return row


def list_payments(
    conn: Connection,
    merchant_id: str,
    *,
    limit: int,
    starting_after: str | None,
    status: str | None,
) -> list[RowMapping]:
    """Up to ``limit + 1`` payments, newest first (the extra one says there is more)."""
    query = select(P).where(P.c.merchant_id == merchant_id)
    if status is not None:
        query = query.where(P.c.status == status)
    if starting_after is not None:
        try:
            anchor = load_payment(conn, merchant_id, starting_after)
        except PaymentNotFound:
            raise PaymentNotFound(param="starting_after") from None
        at = anchor["created_at"]
        # Payments created in the same instant are ordered by id: a stable cursor.
        query = query.where(
            or_(P.c.created_at < at, and_(P.c.created_at == at, P.c.id < anchor["id"]))
        )
    query = query.order_by(P.c.created_at.desc(), P.c.id.desc()).limit(limit + 1)
    return list(conn.execute(query).mappings())


def refund_view(conn: Connection, refund: RowMapping) -> RefundView:
    code = conn.execute(
        select(O.c.unified_code).where(O.c.refund_id == refund["id"], O.c.status == "failed")
    ).scalar()
    return RefundView.from_row(refund, failure_code=code)


def operation_by_key(conn: Connection, gateway_key: str) -> RowMapping | None:
    return conn.execute(select(O).where(O.c.gateway_key == gateway_key)).mappings().first()


def operation(conn: Connection, op_id: str) -> RowMapping:
    return conn.execute(select(O).where(O.c.id == op_id)).mappings().one()


def pending_operations(conn: Connection, payment_id: str, kinds: set[str]) -> list[RowMapping]:
    rows = conn.execute(
        select(O)
        .where(O.c.payment_id == payment_id, O.c.status == "pending", O.c.kind.in_(kinds))
        .order_by(O.c.created_at, O.c.id)
    ).mappings()
    return list(rows)


def pending_refund_total(conn: Connection, payment_id: str) -> int:
    total = conn.execute(
        select(func.coalesce(func.sum(R.c.amount), 0)).where(
            R.c.payment_id == payment_id, R.c.status == "pending"
        )
    ).scalar()
    return int(total or 0)


def open_payment(
    conn: Connection,
    *,
    payment_id: str,
    merchant_id: str,
    kind: Operation,
    fields: dict[str, Any],
    card: CardRecord,
    connector: str,
    gateway_key: str,
    now: datetime,
    actor: str,
) -> str:
    """Write a ``created`` payment and its pending operation; returns the operation id."""
    conn.execute(
        P.insert().values(
            id=payment_id,
            merchant_id=merchant_id,
            status=PaymentStatus.CREATED.value,
            amount=fields["amount"],
            currency=fields["currency"],
            capture_method=fields["capture_method"],
            token=card.token,
            card_brand=card.brand,
            card_bin=card.bin,
            card_last4=card.last4,
            card_exp_month=card.exp_month,
            card_exp_year=card.exp_year,
            connector=connector,
            description=fields["description"],
            metadata=fields["metadata"],
            # The return URL is known now; the action only once a challenge is open.
            next_action={"return_url": fields["return_url"], "action": None},
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    op_id = insert_operation(
        conn,
        payment_id=payment_id,
        merchant_id=merchant_id,
        kind=kind,
        amount=fields["amount"],
        gateway_key=gateway_key,
        now=now,
    )
    audit(
        conn,
        now=now,
        actor=actor,
        action="payment.create",
        merchant_id=merchant_id,
        target=payment_id,
        details={
            "operation": op_id,
            "kind": kind.value,
            "token": card.token,
            "amount": fields["amount"],
            "currency": fields["currency"],
            "connector": connector,
        },
    )
    return op_id


def reserve_follow_up(
    engine: Engine,
    *,
    merchant_id: str,
    payment_id: str,
    kind: Operation,
    amount: int | None,
    reason: str | None,
    gateway_key: str,
    now: datetime,
) -> tuple[RowMapping, str, int]:
    """(payment as read, operation id, amount) for a new capture, void or refund; from the
    top again when a concurrent request moved the payment first."""
    for _ in range(_ATTEMPTS):
        try:
            with engine.begin() as conn:
                return _reserve_follow_up(
                    conn,
                    merchant_id=merchant_id,
                    payment_id=payment_id,
                    kind=kind,
                    amount=amount,
                    reason=reason,
                    gateway_key=gateway_key,
                    now=now,
                )
        except VersionConflict:
            continue
    raise PaymentConflict


def _reserve_follow_up(
    conn: Connection,
    *,
    merchant_id: str,
    payment_id: str,
    kind: Operation,
    amount: int | None,
    reason: str | None,
    gateway_key: str,
    now: datetime,
) -> tuple[RowMapping, str, int]:
    payment = load_payment(conn, merchant_id, payment_id)
    require(kind.value, payment["status"])
    if kind is Operation.REFUND:
        value = refund_amount(
            amount,
            payment["amount_captured"],
            payment["amount_refunded"],
            pending_refund_total(conn, payment_id),
        )
    elif pending_operations(conn, payment_id, {"capture", "void"}):
        raise OperationInProgress
    elif kind is Operation.CAPTURE:
        value = capture_amount(amount, payment["amount_authorized"])
    else:
        value = payment["amount_authorized"]
    reserve(conn, payment, now)
    refund_id = None
    if kind is Operation.REFUND:
        refund_id = new_id("re")
        conn.execute(
            R.insert().values(
                id=refund_id,
                payment_id=payment_id,
                merchant_id=merchant_id,
                amount=value,
                currency=payment["currency"],
                status="pending",
                reason=reason,
                created_at=now,
                updated_at=now,
            )
        )
    op_id = insert_operation(
        conn,
        payment_id=payment_id,
        merchant_id=merchant_id,
        kind=kind,
        amount=value,
        gateway_key=gateway_key,
        now=now,
        refund_id=refund_id,
    )
    return payment, op_id, value


def reserve(conn: Connection, payment: RowMapping, now: datetime) -> None:
    """Claim the payment for a new operation: a concurrent one sees a newer version."""
    done = conn.execute(
        update(P)
        .where(P.c.id == payment["id"], P.c.version == payment["version"])
        .values(version=payment["version"] + 1, updated_at=now)
    )
    if done.rowcount != 1:
        raise VersionConflict


def insert_operation(
    conn: Connection,
    *,
    payment_id: str,
    merchant_id: str,
    kind: Operation,
    amount: int,
    gateway_key: str,
    now: datetime,
    refund_id: str | None = None,
) -> str:
    op_id = new_id("op")
    conn.execute(
        O.insert().values(
            id=op_id,
            payment_id=payment_id,
            merchant_id=merchant_id,
            kind=kind.value,
            status="pending",
            amount=amount,
            gateway_key=gateway_key,
            refund_id=refund_id,
            created_at=now,
        )
    )
    return op_id


def current(payment: RowMapping) -> Current:
    return Current(
        status=PaymentStatus(payment["status"]),
        amount=payment["amount"],
        amount_authorized=payment["amount_authorized"],
        amount_captured=payment["amount_captured"],
        amount_refunded=payment["amount_refunded"],
    )
