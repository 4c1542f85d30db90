"""Phase 3 of the recoverable phases: recording a gateway outcome, once.

In one transaction: the operation (only while it is still pending, so an outcome is
recorded once however many workers resolve it), the payment (only at the version it was
read at: optimistic locking), the refund, the events (outbox) and the audit entry. A
rolled-back transaction leaves no event behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, update

from cardshield.gateways.base import GatewayResult
from cardshield.payments.errors import PaymentConflict
from cardshield.payments.outbox import emit_event
from cardshield.payments.phases import (
    VersionConflict,
    current,
    load_payment,
    load_refund,
    operation,
    refund_view,
)
from cardshield.payments.states import Operation, Outcome, PaymentStatus, check_transition, outcome
from cardshield.payments.views import PaymentView
from cardshield.security.audit import append as audit
from cardshield.storage.schema import payment_operations as O
from cardshield.storage.schema import payments as P
from cardshield.storage.schema import refunds as R

_ATTEMPTS = 8


def record_result(
    engine: Engine, op_id: str, result: GatewayResult, *, now: datetime, actor: str
) -> PaymentView | None:
    """Record ``result`` for the operation; None when it does not settle it (the processor
    is still deciding). Safe to call from several workers at once."""
    for _ in range(_ATTEMPTS):
        try:
            with engine.begin() as conn:
                op = operation(conn, op_id)
                payment = load_payment(conn, op["merchant_id"], op["payment_id"])
                if op["status"] != "pending":
                    return PaymentView.from_row(payment)
                stored = payment["next_action"] or {}
                out = outcome(
                    Operation(op["kind"]),
                    current(payment),
                    op["amount"],
                    result,
                    return_url=stored.get("return_url"),
                )
                if out is None:
                    return None
                view = record(
                    conn, op=op, payment=payment, out=out, result=result, now=now, actor=actor
                )
                if view is None:
                    raise VersionConflict  # recorded meanwhile: read it again
                return view
        except VersionConflict:
            continue
    raise PaymentConflict


def record(
    conn: Connection,
    *,
    op: RowMapping,
    payment: RowMapping,
    out: Outcome,
    result: GatewayResult,
    now: datetime,
    actor: str,
) -> PaymentView | None:
    """Phase 3: write one outcome; the payment as it now is, or None when the operation
    was already recorded."""
    kind = Operation(op["kind"])
    src = PaymentStatus(payment["status"])
    check_transition(kind, src, out.status)
    if out.op_status == "pending" and out.status == src:
        return PaymentView.from_row(payment)  # a 3-D Secure challenge still open
    decline = out.decline
    op_values: dict[str, Any] = {
        "status": out.op_status,
        "connector_reference": result.connector_reference or op["connector_reference"],
    }
    if out.op_status != "pending":
        op_values |= {
            "completed_at": now,
            "unified_code": decline.code.value if decline else None,
            "raw_code": decline.raw_code[:128] if decline else None,
            "message": decline.user_message if decline else None,
        }
    claimed = conn.execute(
        update(O).where(O.c.id == op["id"], O.c.status == "pending").values(**op_values)
    )
    if claimed.rowcount != 1:
        return None
    values: dict[str, Any] = {
        "status": out.status.value,
        "amount_authorized": out.amount_authorized,
        "amount_captured": out.amount_captured,
        "amount_refunded": out.amount_refunded,
        "version": payment["version"] + 1,
        "updated_at": now,
    }
    if kind in (Operation.AUTHORIZE, Operation.VERIFY):
        stored = dict(payment["next_action"] or {})
        values["next_action"] = stored | {"action": out.next_action}
        if result.connector_reference:
            values["connector_reference"] = result.connector_reference
        if decline is not None:
            values |= {
                "decline_code": decline.code.value,
                "raw_decline_code": decline.raw_code[:128],
                "failure_message": decline.user_message,
            }
    moved = conn.execute(
        update(P).where(P.c.id == payment["id"], P.c.version == payment["version"]).values(**values)
    )
    if moved.rowcount != 1:
        raise VersionConflict
    refund = None
    if kind is Operation.REFUND and out.refund_status and op["refund_id"]:
        conn.execute(
            update(R)
            .where(R.c.id == op["refund_id"])
            .values(
                status=out.refund_status,
                connector_reference=result.connector_reference,
                updated_at=now,
            )
        )
        refund = refund_view(conn, load_refund(conn, payment["merchant_id"], op["refund_id"]))
    view = PaymentView.from_row(load_payment(conn, payment["merchant_id"], payment["id"]))
    for event_type in out.events:
        data = refund.to_dict() if refund and event_type.startswith("refund.") else view.to_dict()
        emit_event(
            conn,
            now=now,
            merchant_id=payment["merchant_id"],
            type=event_type,
            object_id=payment["id"],
            data=data,
        )
    audit(
        conn,
        now=now,
        actor=actor,
        action=f"payment.{kind.value}",
        outcome="failure" if out.op_status == "failed" else "success",
        merchant_id=payment["merchant_id"],
        target=payment["id"],
        details={
            "operation": op["id"],
            "from": src.value,
            "to": out.status.value,
            "amount": op["amount"],
            "currency": payment["currency"],
            "connector": payment["connector"],
            "connector_reference": result.connector_reference,
            "decline_code": decline.code.value if decline else None,
        },
    )
    return view
