"""Settling operations whose outcome is unknown: after a crash, a timeout or an error.

An operation is ``pending`` from phase 1 until its outcome is recorded. :func:`resolve`
asks the processor for the operation by its gateway key (``connector.sync``) and records a
definite answer. When the processor has no record of it:

* on a retry of the same idempotent request (``resend=True``), the call is sent again with
  the same gateway key - the processor answers a key it has seen from its records, so this
  cannot charge twice. An authorization is re-sent only with a reusable token (a
  single-use one was consumed by the first attempt);
* in the recovery job (``give_up=True``, operations older than ``older_than``, so any call
  still in flight has long timed out) the operation never reached the processor: it is
  recorded as failed. Nothing is re-sent in the background: a merchant who saw an error may
  already have retried under a new key, and a late re-send would then charge twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cardshield.errors import CardshieldError
from cardshield.gateways.base import (
    AuthorizeRequest,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    InboundEvent,
    Money,
)
from cardshield.gateways.declines import Decline, DeclineCode
from cardshield.payments import phases
from cardshield.payments.errors import PaymentProcessing
from cardshield.payments.idempotency import Claim
from cardshield.payments.states import require
from cardshield.payments.views import PaymentView
from cardshield.storage.schema import payment_operations as O
from cardshield.storage.schema import payments as P

if TYPE_CHECKING:
    from cardshield.payments.service import PaymentService

# Answers that settle an operation. FAILED from sync means "no such operation" (or an
# unknown state) and PENDING means "not decided yet": neither is recorded on a retry.
DEFINITE = frozenset(
    {
        GatewayStatus.AUTHORIZED,
        GatewayStatus.CAPTURED,
        GatewayStatus.VOIDED,
        GatewayStatus.REFUNDED,
        GatewayStatus.VERIFIED,
        GatewayStatus.DECLINED,
        GatewayStatus.REQUIRES_ACTION,
    }
)
DEFAULT_OLDER_THAN = timedelta(minutes=5)
NEVER_ARRIVED = Decline(
    DeclineCode.PROCESSING_ERROR, "no_such_operation", "the processor has no record of it"
)


def resolve(
    service: PaymentService,
    op: Any,
    now: datetime,
    *,
    resend: bool,
    give_up: bool,
) -> PaymentView | None:
    """Settle one pending operation; None while its outcome is still unknown."""
    connector, account = service.connector_for(op["merchant_id"])
    with service.engine.connect() as conn:
        payment = phases.load_payment(conn, op["merchant_id"], op["payment_id"])
    if payment["connector"] != connector.name:
        return None  # the merchant moved to another processor; only the old one can tell
    try:
        result = connector.sync(op["gateway_key"], op["connector_reference"])
    except GatewayError:
        return None
    if result.status in DEFINITE:
        return service.record(op["id"], result, now)
    if resend:
        again = _resend(service, op, payment, connector, account, now)
        return None if again is None else service.record(op["id"], again, now)
    if give_up and result.status is GatewayStatus.FAILED:
        return service.record(
            op["id"], GatewayResult(GatewayStatus.FAILED, decline=NEVER_ARRIVED), now
        )
    return None


def _resend(
    service: PaymentService, op: Any, payment: Any, connector: Any, account: str, now: datetime
) -> GatewayResult | None:
    money = Money(op["amount"], payment["currency"])
    try:
        if op["kind"] in ("capture", "void", "refund"):
            request = FollowUpRequest(
                money=money,
                connector_reference=payment["connector_reference"] or "",
                idempotency_key=op["gateway_key"],
                merchant_account=account,
                reference=payment["id"],
            )
            result: GatewayResult = getattr(connector, op["kind"])(request)
            return result
        token = payment["token"]
        if token is None or service.vault.retrieve(payment["merchant_id"], token).single_use:
            return None
        with service.vault.use_for_forwarding(
            payment["merchant_id"],
            token,
            now=now,
            actor=service.actor,
            purpose=f"gateway:{connector.name}:{op['kind']}",
        ) as card:
            stored = payment["next_action"] or {}
            auth = AuthorizeRequest(
                money=money,
                card=card,
                capture=payment["capture_method"] == "automatic",
                idempotency_key=op["gateway_key"],
                merchant_account=account,
                reference=payment["id"],
                description=payment["description"],
                return_url=stored.get("return_url"),
                metadata=payment["metadata"] or {},
            )
            call = connector.verify if op["kind"] == "verify" else connector.authorize
            result = call(auth)
            return result
    except (GatewayError, CardshieldError):
        return None


def retried(
    service: PaymentService, key: str, held: Claim | None, now: datetime, *, look: bool = False
) -> tuple[PaymentView, str] | None:
    """(view, operation id) of the operation an earlier attempt of this idempotent request
    started, settled now; None if there is none (a first attempt)."""
    if held is None or not (held.taken_over or look):
        return None  # a key claimed just now: no earlier attempt can have used its keys
    with service.engine.connect() as conn:
        op = phases.operation_by_key(conn, key)
        if op is None:
            return None
        if op["status"] != "pending":
            row = phases.load_payment(conn, op["merchant_id"], op["payment_id"])
            return PaymentView.from_row(row), op["id"]
    view = resolve(service, op, now, resend=True, give_up=False)
    if view is None:
        raise PaymentProcessing(op["payment_id"], "the processor has not answered yet")
    return view, op["id"]


def complete_action(
    service: PaymentService, merchant_id: str, payment_id: str, *, now: datetime
) -> PaymentView:
    """Settle a payment waiting for its 3-D Secure challenge, if the processor has decided."""
    with service.engine.connect() as conn:
        payment = phases.load_payment(conn, merchant_id, payment_id)
        require("complete_action", payment["status"])
        ops = phases.pending_operations(conn, payment_id, {"authorize"})
    if not ops:
        return PaymentView.from_row(payment)
    view = resolve(service, ops[0], now, resend=False, give_up=False)
    if view is None:
        raise PaymentProcessing(payment_id, "no answer from the processor")
    return view


def handle_event(
    service: PaymentService, event: InboundEvent, *, now: datetime
) -> PaymentView | None:
    """A verified processor webhook: settle the pending operations of the payment it names
    (by the charge's reference, or a capture's or refund's)."""
    ref = event.connector_reference
    if not ref:
        return None
    with service.engine.connect() as conn:
        found = conn.execute(
            select(P.c.merchant_id, P.c.id)
            .where(P.c.connector == event.connector, P.c.connector_reference == ref)
            .union(select(O.c.merchant_id, O.c.payment_id).where(O.c.connector_reference == ref))
        ).first()
        if found is None:
            return None
        ops = phases.pending_operations(
            conn, found[1], {"authorize", "verify", "capture", "void", "refund"}
        )
    for op in ops:
        resolve(service, op, now, resend=False, give_up=False)
    with service.engine.connect() as conn:
        return PaymentView.from_row(phases.load_payment(conn, found[0], found[1]))


@dataclass
class RecoveryReport:
    examined: int = 0
    resolved: int = 0
    still_pending: int = 0
    errors: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "resolved": self.resolved,
            "still_pending": self.still_pending,
            "errors": self.errors,
            "resolved_by_kind": dict(self.by_kind),
        }


def resume_pending(
    service: PaymentService,
    *,
    now: datetime,
    older_than: timedelta = DEFAULT_OLDER_THAN,
    limit: int = 1000,
) -> RecoveryReport:
    """Settle every operation pending for longer than ``older_than`` (oldest first)."""
    report = RecoveryReport()
    with service.engine.connect() as conn:
        ops = list(
            conn.execute(
                select(O)
                .where(O.c.status == "pending", O.c.created_at <= now - older_than)
                .order_by(O.c.created_at, O.c.id)
                .limit(limit)
            ).mappings()
        )
    for op in ops:
        report.examined += 1
        try:
            view = resolve(service, op, now, resend=False, give_up=True)
        except CardshieldError:
            report.errors += 1
            continue
        if view is None or view.status == "requires_action":
            report.still_pending += 1
        else:
            report.resolved += 1
            report.by_kind[op["kind"]] += 1
    return report
