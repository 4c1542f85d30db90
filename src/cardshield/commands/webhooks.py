"""``cardshield webhooks``: endpoints, the delivery log, replay, and the delivery worker.

::

    cardshield webhooks endpoints add URL --merchant M [--events payment.captured,...]
    cardshield webhooks endpoints list [--merchant M] | disable ID | roll-secret ID
    cardshield webhooks deliveries [--status pending|delivered|failed] [--merchant M]
    cardshield webhooks attempts DELIVERY_ID
    cardshield webhooks replay evt_...|DELIVERY_ID
    cardshield webhooks worker [--once]      (Ctrl-C or SIGTERM stops it cleanly)

Errors are one line on stderr and exit status 2. Endpoint secrets are printed only by
``add`` and ``roll-secret``, once.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from cardshield.commands._shared import settings, utcnow
from cardshield.crypto.kms import open_kms
from cardshield.errors import CardshieldError
from cardshield.payments.webhooks import (
    RetryPolicy,
    create_endpoint,
    deliver_due,
    disable_endpoint,
    list_endpoints,
    replay,
    roll_secret,
    run_forever,
)
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.security.audit import bind_key
from cardshield.storage import check_current, make_engine
from cardshield.storage.schema import events, webhook_attempts, webhook_deliveries

app = typer.Typer(
    help="Merchant webhooks: endpoints, delivery log, replay, worker.", no_args_is_help=True
)
endpoints_app = typer.Typer(help="Webhook endpoints of merchants.", no_args_is_help=True)
app.add_typer(endpoints_app, name="endpoints")

_LOOPBACK = typer.Option(
    False,
    "--allow-http-loopback",
    help="Allow http:// to localhost/127.0.0.1/::1 (tests and the demo only).",
)


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _bind_audit_key(engine: Engine, kms_url: str) -> None:
    """Endpoint changes and replays are audited: their entries need the KMS's audit key."""
    kms = open_kms(kms_url)
    try:
        bind_key(engine, kms)
    finally:
        kms.close()


@contextmanager
def _engine(ctx: typer.Context) -> Iterator[Engine]:
    """The database at the current schema; CardshieldErrors become one line, exit 2."""
    try:
        s = settings(ctx)
        engine = make_engine(s.effective_database_url)
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    try:
        check_current(engine)
        _bind_audit_key(engine, s.effective_kms_url)
        yield engine
    except CardshieldError as exc:
        raise _fail(exc.message) from None
    finally:
        engine.dispose()


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@endpoints_app.command("add")
def endpoints_add(
    ctx: typer.Context,
    url: str,
    merchant: str = typer.Option(..., "--merchant", help="The merchant id (mer_...)."),
    events_: list[str] = typer.Option(
        ["*"], "--events", help="Event types, comma-separated or repeated; * for all."
    ),
    allow_http_loopback: bool = _LOOPBACK,
) -> None:
    """Add an endpoint; prints its id and its signing secret (shown once)."""
    wanted = [t for item in events_ for t in item.split(",")]
    with _engine(ctx) as engine, engine.begin() as conn:
        created = create_endpoint(
            conn,
            merchant_id=merchant,
            url=url,
            enabled_events=wanted,
            now=utcnow(),
            allow_http_loopback=allow_http_loopback,
            actor="cli",
        )
    typer.echo(created.endpoint.id)
    typer.echo(f"secret: {created.secret.reveal()}  (shown once: store it now)")


@endpoints_app.command("list")
def endpoints_list(
    ctx: typer.Context, merchant: str | None = typer.Option(None, "--merchant")
) -> None:
    with _engine(ctx) as engine, engine.connect() as conn:
        rows = list_endpoints(conn, merchant_id=merchant)
    table = Table("id", "merchant", "url", "events", "status", "created")
    for e in rows:
        status = "enabled" if e.enabled else f"disabled {_when(e.disabled_at)}"
        table.add_row(
            e.id, e.merchant_id, e.url, ",".join(e.enabled_events), status, _when(e.created_at)
        )
    Console().print(table)


@endpoints_app.command("disable")
def endpoints_disable(ctx: typer.Context, endpoint_id: str) -> None:
    """Disable an endpoint; its pending deliveries are given up."""
    with _engine(ctx) as engine, engine.begin() as conn:
        cancelled = disable_endpoint(conn, endpoint_id, now=utcnow(), actor="cli")
    typer.echo(f"disabled {endpoint_id}: {cancelled} pending deliveries given up")


@endpoints_app.command("roll-secret")
def endpoints_roll(
    ctx: typer.Context,
    endpoint_id: str,
    keep_previous_hours: float = typer.Option(
        24.0, "--keep-previous-hours", min=0, help="How long the old secret keeps signing."
    ),
) -> None:
    """Replace the signing secret; prints the new one (shown once)."""
    with _engine(ctx) as engine, engine.begin() as conn:
        secret = roll_secret(
            conn,
            endpoint_id,
            now=utcnow(),
            keep_previous_for=timedelta(hours=keep_previous_hours),
            actor="cli",
        )
    typer.echo(f"secret: {secret.reveal()}  (shown once: store it now)")


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    status: DeliveryStatus | None = typer.Option(None, "--status"),
    merchant: str | None = typer.Option(None, "--merchant"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """The delivery log, newest first."""
    d = webhook_deliveries
    query = (
        select(d, events.c.type)
        .join(events, events.c.id == d.c.event_id)
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(d.c.status == status.value)
    if merchant is not None:
        query = query.where(d.c.merchant_id == merchant)
    with _engine(ctx) as engine, engine.connect() as conn:
        rows = conn.execute(query).all()
    table = Table(
        "id", "event", "type", "endpoint", "object", "status", "attempts", "last", "next/done"
    )
    for r in rows:
        last = str(r.last_status_code) if r.last_status_code is not None else (r.last_error or "")
        when = r.delivered_at if r.status == "delivered" else r.next_attempt_at
        table.add_row(
            str(r.id),
            r.event_id,
            r.type,
            r.endpoint_id,
            r.object_id or "",
            r.status,
            str(r.attempts),
            last[:40],
            _when(when) if r.status != "failed" else "",
        )
    Console().print(table)


@app.command("attempts")
def attempts(ctx: typer.Context, delivery_id: int) -> None:
    """Every attempt of one delivery: when, status code, error, duration."""
    a = webhook_attempts
    with _engine(ctx) as engine, engine.connect() as conn:
        rows = conn.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id)).all()
    table = Table("attempted", "status", "error", "ms")
    for r in rows:
        code = "" if r.status_code is None else str(r.status_code)
        table.add_row(_when(r.attempted_at), code, r.error or "", str(r.duration_ms))
    Console().print(table)


@app.command("replay")
def replay_cmd(ctx: typer.Context, target: str) -> None:
    """Queue an event (evt_...) or one delivery (its number) to be sent again now."""
    if target.startswith("evt_"):
        kwargs: dict[str, Any] = {"event_id": target}
    elif target.isdigit():
        kwargs = {"delivery_id": int(target)}
    else:
        raise _fail("give an event id (evt_...) or a delivery number")
    with _engine(ctx) as engine:
        queued = replay(engine, now=utcnow(), actor="cli", **kwargs)
    typer.echo(f"queued {len(queued)} deliveries: {', '.join(map(str, queued)) or '-'}")


@app.command("worker")
def worker(
    ctx: typer.Context,
    owner: str = typer.Option(
        f"{socket.gethostname()}-{os.getpid()}", "--owner", help="This worker's lease name."
    ),
    batch: int = typer.Option(50, "--batch", min=1, max=1000),
    idle: float = typer.Option(1.0, "--idle", min=0.01, help="Seconds to sleep when idle."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="HTTP timeout (s)."),
    max_attempts: int = typer.Option(15, "--max-attempts", min=1),
    once: bool = typer.Option(False, "--once", help="Run one round and exit."),
    allow_http_loopback: bool = _LOOPBACK,
) -> None:
    """Send due webhooks until Ctrl-C (or SIGTERM); the send in flight finishes first."""
    options: dict[str, Any] = {
        "batch": batch,
        "timeout": timeout,
        "lease": timedelta(seconds=timeout * 3 + 5),
        "retry": RetryPolicy(max_attempts=max_attempts),
        "allow_http_loopback": allow_http_loopback,
    }
    transport = PinnedTransport(allow_loopback=allow_http_loopback)
    with _engine(ctx) as engine, httpx.Client(transport=transport) as http:
        if once:
            handled = deliver_due(engine, now=utcnow(), owner=owner, http=http, **options)
            typer.echo(f"handled {handled} deliveries")
            return
        stop = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        typer.echo(f"webhook worker {owner} running; Ctrl-C stops it", err=True)
        try:
            run_forever(engine, owner=owner, http=http, stop=stop, idle=idle, **options)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        typer.echo("webhook worker stopped", err=True)
