"""The audit log viewer: filters, pages of entries (newest first), and verifying the chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from cardshield.security.audit_query import AuditFilter, page
from cardshield.security.audit_verify import verify
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
Auditor = Require(Permission.AUDIT_VIEW)
PAGE_SIZE = 50
_FIELDS = ("action", "actor", "merchant", "target", "outcome", "since", "until")


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _text(value: str | None, limit: int = 128) -> str | None:
    return value.strip()[:limit] or None if value else None


@router.get("/audit")
def audit_log(request: Request, principal: Annotated[Principal, Auditor]) -> Response:
    q = request.query_params
    filters = AuditFilter(
        action=_text(q.get("action"), 64),
        actor=_text(q.get("actor")),
        merchant_id=_text(q.get("merchant"), 64),
        target=_text(q.get("target")),
        outcome=_text(q.get("outcome"), 16),
        since=_day(q.get("since")),
        until=_day(q.get("until"), end=True),
    )
    before = q.get("before", "")
    with services(request).engine.connect() as conn:
        entries = page(
            conn,
            filters,
            limit=PAGE_SIZE + 1,
            before_seq=int(before) if before.isdigit() else None,
            merchant_scope=principal.merchant_scope,
        )
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    kept = {k: q.get(k, "") for k in _FIELDS}
    next_query = urlencode({k: v for k, v in kept.items() if v})
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "filters": kept,
            "next_page": f"?{next_query}&before={entries[-1]['seq']}" if more else None,
        },
    )


@router.post("/audit/verify")
def verify_chain(request: Request, _principal: Annotated[Principal, Auditor]) -> Response:
    svc = services(request)
    report = verify(svc.engine, svc.kms)
    return render(
        request,
        "audit_verify.html",
        {"report": report, "problem": report.problem.describe() if report.problem else None},
        status=200,
    )
