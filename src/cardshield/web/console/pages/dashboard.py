"""The dashboard: payments, declines and card-data accesses per day (last 14 days, UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Request
from sqlalchemy import Connection, Date, cast, func, select
from starlette.responses import Response

from cardshield.security.monitor import CARD_ACTION_PREFIX
from cardshield.security.permissions import Permission
from cardshield.storage.schema import audit_log, operator_sessions, payments
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.charts import bar_chart
from cardshield.web.console.render import inline_svg, render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services

router = console_router(tags=["console"])
DAYS = 14
DECLINED = ("failed",)


def _day_of(conn: Connection, column: Any) -> Any:
    # Day edges in UTC on both databases (SQLite stores naive UTC; PostgreSQL timestamptz).
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def per_day(
    conn: Connection, column: Any, where: list[Any], *, first: date, days: int
) -> list[tuple[date, int]]:
    day = _day_of(conn, column).label("day")
    since = datetime.combine(first, time(0), tzinfo=UTC)
    rows = conn.execute(select(day, func.count()).where(column >= since, *where).group_by(day))
    counts = {
        (r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0]))): r[1] for r in rows
    }
    return [
        (first + timedelta(days=i), int(counts.get(first + timedelta(days=i), 0)))
        for i in range(days)
    ]


@router.get("/dashboard")
def dashboard(
    request: Request, principal: Annotated[Principal, Require(Permission.REPORTS_VIEW)]
) -> Response:
    today = principal.now.astimezone(UTC).date()
    first = today - timedelta(days=DAYS - 1)
    scope = principal.merchant_scope
    pay_where: list[Any] = [] if scope is None else [payments.c.merchant_id == scope]
    card_where: list[Any] = [audit_log.c.action.startswith(CARD_ACTION_PREFIX)]
    if scope is not None:
        card_where.append(audit_log.c.merchant_id == scope)
    with services(request).engine.connect() as conn:
        made = per_day(conn, payments.c.created_at, pay_where, first=first, days=DAYS)
        declined = per_day(
            conn,
            payments.c.created_at,
            [*pay_where, payments.c.status.in_(DECLINED)],
            first=first,
            days=DAYS,
        )
        accessed = per_day(conn, audit_log.c.occurred_at, card_where, first=first, days=DAYS)
        signed_in = conn.execute(
            select(func.count())
            .select_from(operator_sessions)
            .where(operator_sessions.c.stage == "active")
        ).scalar_one()
    charts = [
        ("Payments", made, ""),
        ("Declines", declined, "decline"),
        ("Card-data accesses", accessed, "access"),
    ]
    return render(
        request,
        "dashboard.html",
        {
            "charts": [
                {
                    "title": title,
                    "total": sum(n for _, n in data),
                    "svg": inline_svg(bar_chart(data, css=css, label=title)),
                }
                for title, data, css in charts
            ],
            "first": first,
            "today": today,
            "sessions": signed_in,
            "days": DAYS,
        },
    )
