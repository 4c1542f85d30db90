"""The delivery worker: posts queued events to merchant endpoints, with retries.

:func:`deliver_due` runs one round; :func:`run_forever` loops until told to stop. Any
number of workers on any number of nodes may run side by side:

* **Leases.** A worker claims due deliveries with one ``UPDATE ... RETURNING`` that sets
  ``lease_owner`` and ``leased_until``. On PostgreSQL the candidates are picked with
  ``FOR UPDATE SKIP LOCKED``, so workers take disjoint rows without waiting; on SQLite the
  statement holds the database's single writer lock. Before each send the worker renews
  the lease (only while it still holds it) and records the outcome only under its own
  lease, so a delivery is never in flight twice. The lease must outlast the HTTP timeout.
* **Order per object.** A delivery is due only when no earlier *pending* delivery exists
  for the same endpoint and object (payment): ``payment.captured`` never overtakes
  ``payment.authorized``. A delivery that was given up (``failed``) no longer blocks.
* **Retries.** Anything but a 2xx (including redirects, which are not followed), a
  timeout or a connection error is retried after a delay drawn with full jitter from
  ``[0, min(cap, base * 2**(attempt-1))]``; after ``max_attempts`` the delivery is
  ``failed``. Every attempt is written to ``webhook_attempts`` (status, error, duration).
* **No card data.** Bodies are built from the stored event (tokens and masked data) and
  redacted again; stored errors pass through redaction too.
* **No network detail to the merchant.** A delivery that got no HTTP answer is stored (and
  shown in the console) as :data:`UNREACHABLE`, whatever the cause: "no such name",
  "resolves to an internal address", "connection refused" and "timed out" would tell a
  merchant how the service's own DNS and network answer for any name they care to try.
  The cause goes to the server log (``webhook.attempt``, ``detail``) only.

Delivery is at least once: a worker that dies after the receiver answered but before
recording it leaves the delivery to be sent again when its lease runs out.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Integer, and_, bindparam, exists, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from cardshield import __version__
from cardshield.payments.webhooks.endpoints import check_url, signing_secrets
from cardshield.payments.webhooks.errors import WebhookUrlInsecure, WebhookUrlInvalid
from cardshield.payments.webhooks.signing import SIGNATURE_HEADER, event_body, signature_header
from cardshield.redaction.logging import get_logger
from cardshield.redaction.text import redact
from cardshield.storage.schema import (
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)

log = get_logger(__name__)

_D = webhook_deliveries
_ERROR_WIDTH = 500
UNREACHABLE = "delivery failed: destination refused or unreachable"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``max_attempts`` counts every send."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 15

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base or self.max_attempts < 1:
            raise ValueError("retry policy needs 0 < base <= cap and max_attempts >= 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay (seconds) after the ``attempt``-th failed send (1-based)."""
        exponent = min(attempt - 1, 62)  # 2**62 * base is past any cap; avoids huge ints
        return min(self.cap.total_seconds(), self.base.total_seconds() * float(2**exponent))

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        return timedelta(seconds=rng.uniform(0.0, self.ceiling(attempt)))


@dataclass(frozen=True, slots=True)
class _Job:
    id: int
    event_id: str
    event_type: str
    event_created: datetime
    data: dict[str, Any]
    url: str
    secrets: list[str]
    disabled: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    permanent: bool = False  # no point retrying (refused URL, disabled endpoint)
    detail: str | None = None  # why, for the server log only; never stored

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@functools.cache
def _claim_statement(postgresql: bool) -> Any:
    """The claiming UPDATE, built once per dialect: it runs every second on every node, and
    building its alias and subqueries anew cost more than running it on an idle table."""
    earlier = _D.alias("earlier")
    blocked = exists().where(
        earlier.c.endpoint_id == _D.c.endpoint_id,
        earlier.c.object_id == _D.c.object_id,
        earlier.c.status == "pending",
        earlier.c.id < _D.c.id,
    )
    now = bindparam("now", type_=_D.c.next_attempt_at.type)
    candidates = (
        select(_D.c.id)
        .where(
            _D.c.status == "pending",
            _D.c.next_attempt_at <= now,
            or_(_D.c.leased_until.is_(None), _D.c.leased_until <= now),
            ~blocked,
        )
        .order_by(_D.c.id)
        .limit(bindparam("batch", type_=Integer()))
    )
    if postgresql:
        candidates = candidates.with_for_update(skip_locked=True, of=_D)
    return (
        update(_D)
        .where(_D.c.id.in_(candidates.scalar_subquery()))
        .values(
            lease_owner=bindparam("owner", type_=_D.c.lease_owner.type),
            leased_until=bindparam("until", type_=_D.c.leased_until.type),
        )
        .returning(_D.c.id)
    )


def _claim(engine: Engine, *, now: datetime, owner: str, batch: int, lease: timedelta) -> list[int]:
    claim = _claim_statement(engine.dialect.name == "postgresql")
    params = {"now": now, "batch": batch, "owner": owner, "until": now + lease}
    with engine.begin() as conn:
        return sorted(conn.execute(claim, params).scalars().all())


def _load(engine: Engine, ids: list[int], now: datetime) -> list[_Job]:
    e = webhook_endpoints
    query = (
        select(
            _D.c.id,
            _D.c.attempts,
            events.c.id.label("event_id"),
            events.c.type,
            events.c.created_at,
            events.c.data,
            e.c.url,
            e.c.secret,
            e.c.previous_secret,
            e.c.previous_secret_expires_at,
            e.c.disabled_at,
        )
        .join(events, events.c.id == _D.c.event_id)
        .join(e, e.c.id == _D.c.endpoint_id)
        .where(_D.c.id.in_(ids))
        .order_by(_D.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        _Job(
            id=r.id,
            event_id=r.event_id,
            event_type=r.type,
            event_created=r.created_at,
            data=dict(r.data or {}),
            url=r.url,
            secrets=signing_secrets(r.secret, r.previous_secret, r.previous_secret_expires_at, now),
            disabled=r.disabled_at is not None,
            attempts=r.attempts,
        )
        for r in rows
    ]


def _renew(engine: Engine, delivery_id: int, *, owner: str, at: datetime, lease: timedelta) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(_D)
            .where(_D.c.id == delivery_id, _D.c.lease_owner == owner, _D.c.leased_until > at)
            .values(leased_until=at + lease)
        )
    return result.rowcount == 1


def _release(engine: Engine, ids: list[int], *, owner: str) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(_D)
            .where(_D.c.id.in_(ids), _D.c.lease_owner == owner, _D.c.status == "pending")
            .values(leased_until=None, lease_owner=None)
        )


def _short(text: str) -> str:
    return redact(text)[:_ERROR_WIDTH]


def _send(
    http: httpx.Client, job: _Job, *, at: datetime, timeout: float, allow_http_loopback: bool
) -> _Outcome:
    if job.disabled:
        return _Outcome(None, "endpoint disabled", 0, permanent=True)
    try:
        check_url(job.url, allow_http_loopback=allow_http_loopback)
    except (WebhookUrlInvalid, WebhookUrlInsecure) as exc:
        return _Outcome(None, f"endpoint URL refused: {exc.message}", 0, permanent=True)
    body = event_body(
        event_id=job.event_id, type=job.event_type, created=job.event_created, data=job.data
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"cardshield-webhooks/{__version__}",
        SIGNATURE_HEADER: signature_header(body, job.secrets, timestamp=int(at.timestamp())),
    }
    started = time.monotonic()
    try:
        # The response body is never read: only the status matters, and it may be large.
        with http.stream(
            "POST", job.url, content=body, headers=headers, timeout=timeout, follow_redirects=False
        ) as response:
            code = response.status_code
        error = None if 200 <= code < 300 else f"HTTP {code}"
        return _Outcome(code, error, _ms(started))
    except httpx.HTTPError as exc:  # timeouts, refusals by the pinned transport, TLS, ...
        detail = _short(f"{type(exc).__name__}: {exc}")
        return _Outcome(None, UNREACHABLE, _ms(started), detail=detail)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(
    engine: Engine,
    job: _Job,
    outcome: _Outcome,
    *,
    owner: str,
    at: datetime,
    retry: RetryPolicy,
    rng: random.Random,
) -> None:
    attempts = job.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "leased_until": None,
        "lease_owner": None,
    }
    if outcome.ok:
        values.update(status="delivered", delivered_at=at)
    elif outcome.permanent or attempts >= retry.max_attempts:
        values.update(status="failed")
    else:
        values.update(next_attempt_at=at + retry.delay(attempts, rng))
    with engine.begin() as conn:
        conn.execute(
            webhook_attempts.insert().values(
                delivery_id=job.id,
                attempted_at=at,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        # Only under our own lease: if it ran out and another worker took over, that
        # worker's result is the one that counts (the attempt above is logged either way).
        conn.execute(
            update(_D).where(and_(_D.c.id == job.id, _D.c.lease_owner == owner)).values(**values)
        )


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    owner: str,
    http: httpx.Client,
    batch: int = 50,
    lease: timedelta = timedelta(seconds=30),
    retry: RetryPolicy | None = None,
    timeout: float = 10.0,
    allow_http_loopback: bool = False,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Claim up to ``batch`` due deliveries and send them; returns how many were handled.

    ``now`` is the time the round starts; the clock moves on from it by the real time
    spent sending (lease renewals, signature timestamps, next attempt times).
    """
    if lease.total_seconds() <= timeout + 1:
        raise ValueError("the lease must outlast the HTTP timeout by more than a second")
    retry = retry or RetryPolicy()
    rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    ids = _claim(engine, now=now, owner=owner, batch=batch, lease=lease)
    if not ids:
        return 0
    jobs = _load(engine, ids, now)
    handled = 0
    for index, job in enumerate(jobs):
        if should_stop is not None and should_stop():
            _release(engine, [j.id for j in jobs[index:]], owner=owner)
            break
        at = clock()
        if not _renew(engine, job.id, owner=owner, at=at, lease=lease):
            continue  # our lease ran out and someone else may hold it now
        outcome = _send(http, job, at=at, timeout=timeout, allow_http_loopback=allow_http_loopback)
        _record(engine, job, outcome, owner=owner, at=clock(), retry=retry, rng=rng)
        log.info(
            "webhook.attempt",
            delivery_id=job.id,
            event_id=job.event_id,
            status_code=outcome.status_code,
            error=outcome.error,
            detail=outcome.detail,
            duration_ms=outcome.duration_ms,
        )
        handled += 1
    return handled


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_forever(
    engine: Engine,
    *,
    owner: str,
    http: httpx.Client,
    stop: threading.Event,
    idle: float = 1.0,
    clock: Callable[[], datetime] = utcnow,
    **options: Any,
) -> None:
    """Deliver until ``stop`` is set; sleeps ``idle`` seconds when nothing is due.

    A stop request lets the delivery in flight finish and hands back the rest of the
    claimed batch at once (no waiting for leases to run out). Database errors are logged
    and retried after ``idle``: a restarting database must not end the worker.
    """
    while not stop.is_set():
        try:
            handled = deliver_due(
                engine, now=clock(), owner=owner, http=http, should_stop=stop.is_set, **options
            )
        except SQLAlchemyError as exc:
            log.warning("webhook.worker.db_error", error=f"{type(exc).__name__}")
            handled = 0
        if handled == 0:
            stop.wait(idle)
