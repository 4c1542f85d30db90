"""Payments: a filtered list, a detail page with the event timeline, and capture, refund and
void buttons for roles that hold those permissions.

Pages show masked card data only (brand, BIN and last 4 as stored on the payment). Reading
is a query over the payments tables; capture, refund and void go through the payments
service (``ConsoleServices.payments``) with the operator as the audited actor and a per-form
idempotency key, so a form sent twice acts once. Without a payments service (a console
embedded without processors) the pages are read-only.
"""

from __future__ import annotations

import copy
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from sqlalchemy import Connection, or_, select
from starlette.responses import RedirectResponse, Response

from cardshield.errors import CardshieldError, InvalidRequestError
from cardshield.payments.errors import PaymentNotFound
from cardshield.payments.money import MAX_AMOUNT, InvalidAmount, exponent
from cardshield.payments.states import PaymentStatus
from cardshield.payments.views import PaymentView
from cardshield.security.permissions import Permission
from cardshield.storage.schema import audit_log, events, payment_operations, payments, refunds
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.pages.merchants import visible_merchants
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Viewer = Annotated[Principal, Require(Permission.PAYMENTS_VIEW)]
Capturer = Annotated[Principal, Require(Permission.PAYMENTS_CAPTURE)]
Refunder = Annotated[Principal, Require(Permission.PAYMENTS_REFUND)]
Voider = Annotated[Principal, Require(Permission.PAYMENTS_VOID)]
Field = Annotated[str, Form(max_length=255)]
PAGE_SIZE = 50
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent")


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _scoped(principal: Principal, query: Any) -> Any:
    if principal.merchant_scope is not None:
        query = query.where(payments.c.merchant_id == principal.merchant_scope)
    return query


@router.get("/payments")
def payment_list(request: Request, principal: Viewer) -> Response:
    q = request.query_params
    filters = {
        k: q.get(k, "").strip()[:64] for k in ("merchant", "status", "last4", "q", "since", "until")
    }
    query = _scoped(principal, select(payments))
    if filters["merchant"]:
        query = query.where(payments.c.merchant_id == filters["merchant"])
    if filters["status"]:
        query = query.where(payments.c.status == filters["status"])
    if filters["last4"].isdigit() and len(filters["last4"]) == 4:
        query = query.where(payments.c.card_last4 == filters["last4"])
    if filters["q"]:
        text = filters["q"]
        query = query.where(
            or_(
                payments.c.id == text,
                payments.c.token == text,
                payments.c.connector_reference == text,
            )
        )
    if (since := _day(filters["since"])) is not None:
        query = query.where(payments.c.created_at >= since)
    if (until := _day(filters["until"], end=True)) is not None:
        query = query.where(payments.c.created_at < until)
    before = q.get("before", "")
    if before:
        query = query.where(payments.c.created_at < _before(before))
    with services(request).engine.connect() as conn:
        rows = (
            conn.execute(
                query.order_by(payments.c.created_at.desc(), payments.c.id.desc()).limit(
                    PAGE_SIZE + 1
                )
            )
            .mappings()
            .all()
        )
        merchants = visible_merchants(conn, principal)
    found = [(r["merchant_id"], PaymentView.from_row(r)) for r in rows[:PAGE_SIZE]]
    more = len(rows) > PAGE_SIZE
    next_query = urlencode({k: v for k, v in filters.items() if v})
    cursor = found[-1][1].created.isoformat() if found else ""
    return render(
        request,
        "payments.html",
        {
            "payments": found,
            "filters": filters,
            "merchants": merchants,
            "statuses": [s.value for s in PaymentStatus],
            "next_page": f"?{next_query}&{urlencode({'before': cursor})}" if more else None,
        },
    )


def _before(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError("Invalid page cursor.", param="before") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _load(conn: Connection, principal: Principal, payment_id: str) -> Any:
    row = (
        conn.execute(_scoped(principal, select(payments).where(payments.c.id == payment_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise PaymentNotFound(param="id")
    return row


def _timeline(conn: Connection, payment_id: str) -> list[dict[str, Any]]:
    """Operations, refunds, events and audit entries of one payment, oldest first."""
    items: list[dict[str, Any]] = []
    for op in conn.execute(
        select(payment_operations).where(payment_operations.c.payment_id == payment_id)
    ).mappings():
        detail = " ".join(str(x) for x in (op["unified_code"], op["message"]) if x)
        items.append(
            {
                "at": op["created_at"],
                "kind": "operation",
                "what": f"{op['kind']}: {op['status']}",
                "amount": op["amount"],
                "detail": detail,
            }
        )
    for rf in conn.execute(select(refunds).where(refunds.c.payment_id == payment_id)).mappings():
        items.append(
            {
                "at": rf["created_at"],
                "kind": "refund",
                "what": f"refund {rf['id']}: {rf['status']}",
                "amount": rf["amount"],
                "detail": rf["reason"] or "",
            }
        )
    for ev in conn.execute(
        select(events.c.id, events.c.type, events.c.created_at).where(
            events.c.object_id == payment_id
        )
    ).mappings():
        items.append(
            {
                "at": ev["created_at"],
                "kind": "event",
                "what": ev["type"],
                "amount": None,
                "detail": ev["id"],
            }
        )
    for au in conn.execute(
        select(
            audit_log.c.seq,
            audit_log.c.occurred_at,
            audit_log.c.actor,
            audit_log.c.action,
            audit_log.c.outcome,
        ).where(audit_log.c.target == payment_id)
    ).mappings():
        items.append(
            {
                "at": au["occurred_at"],
                "kind": "audit",
                "what": f"{au['action']} ({au['outcome']})",
                "amount": None,
                "detail": f"#{au['seq']} by {au['actor']}",
            }
        )
    return sorted(items, key=lambda i: (i["at"], i["kind"]))


def _detail(
    request: Request,
    principal: Principal,
    payment_id: str,
    *,
    error: str | None = None,
    message: str | None = None,
) -> Response:
    with services(request).engine.connect() as conn:
        row = _load(conn, principal, payment_id)
        timeline = _timeline(conn, payment_id)
    view = PaymentView.from_row(row)
    can_act = services(request).payments is not None
    return render(
        request,
        "payment.html",
        {
            "p": view,
            "merchant": row["merchant_id"],
            "bin": (row["card_bin"] or "")[:6],
            "timeline": timeline,
            "can_act": can_act,
            "capturable": view.status == PaymentStatus.AUTHORIZED,
            "refundable": view.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED),
            "refund_left": view.amount_captured - view.amount_refunded,
            "reasons": REFUND_REASONS,
            "idempotency_key": "console_" + secrets.token_urlsafe(18),
            "error": error,
            "message": message or request.query_params.get("done"),
        },
        status=400 if error else 200,
    )


@router.get("/payments/{payment_id}")
def payment_detail(request: Request, principal: Viewer, payment_id: str) -> Response:
    return _detail(request, principal, payment_id)


# Plain decimal notation in ASCII digits: no sign, exponent, infinity or NaN, no digit
# grouping (``re``'s \d would also match other scripts' digits).
_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_MAX_WHOLE_DIGITS = len(str(MAX_AMOUNT))


def _minor(amount: str, currency: str) -> int | None:
    """``"10.50"`` in EUR -> 1050; empty means the whole amount.

    Worked out on the digits, in integers: nothing is rounded (decimal arithmetic keeps 28
    digits), and an amount too long to be real is refused before any arithmetic on it.
    """
    text = amount.strip()
    if not text:
        return None
    found = _AMOUNT.fullmatch(text)
    if found is None:
        raise InvalidAmount("The amount must be a number like 10.50.", param="amount")
    whole = found.group(1).lstrip("0")
    decimals = (found.group(2) or "").rstrip("0")
    places = exponent(currency)
    if len(decimals) > places:
        raise InvalidAmount(
            f"The amount has more decimals than {currency} has ({places}).", param="amount"
        )
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise InvalidAmount("The amount is too large.", param="amount")
    minor = int((whole or "0") + decimals.ljust(places, "0"))
    if minor <= 0:
        raise InvalidAmount("The amount must be more than zero.", param="amount")
    if minor > MAX_AMOUNT:
        raise InvalidAmount("The amount is too large.", param="amount")
    return minor


def _act(
    request: Request, principal: Principal, payment_id: str, action: str, **kwargs: Any
) -> Response:
    svc = services(request)
    if svc.payments is None:
        return _detail(
            request, principal, payment_id, error="Payments are read-only in this console."
        )
    service = copy.copy(svc.payments)
    service.actor = principal.actor  # the operator is the audited actor
    try:
        with svc.engine.connect() as conn:
            row = _load(conn, principal, payment_id)
        if "amount" in kwargs:
            kwargs["amount"] = _minor(kwargs["amount"], row["currency"])
        getattr(service, action)(row["merchant_id"], payment_id, now=principal.now, **kwargs)
    except CardshieldError as exc:
        if isinstance(exc, PaymentNotFound):
            raise
        return _detail(request, principal, payment_id, error=exc.message)
    done = {"capture": "Captured", "refund": "Refund+requested", "void": "Voided"}[action]
    return RedirectResponse(f"/console/payments/{payment_id}?done={done}", status_code=303)


@router.post("/payments/{payment_id}/capture")
def capture(
    request: Request,
    principal: Capturer,
    payment_id: str,
    idempotency_key: Field,
    amount: Field = "",
) -> Response:
    return _act(
        request, principal, payment_id, "capture", amount=amount, idempotency_key=idempotency_key
    )


@router.post("/payments/{payment_id}/refund")
def refund(
    request: Request,
    principal: Refunder,
    payment_id: str,
    idempotency_key: Field,
    amount: Field = "",
    reason: Field = "",
) -> Response:
    why = reason if reason in REFUND_REASONS else None
    return _act(
        request,
        principal,
        payment_id,
        "refund",
        amount=amount,
        reason=why,
        idempotency_key=idempotency_key,
    )


@router.post("/payments/{payment_id}/void")
def void(request: Request, principal: Voider, payment_id: str, idempotency_key: Field) -> Response:
    return _act(request, principal, payment_id, "void", idempotency_key=idempotency_key)
