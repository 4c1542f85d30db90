"""Idempotency keys with Stripe's semantics, stored in the database (works across nodes).

* A key is 1 to 255 characters, scoped to the merchant (``idempotency_key_invalid``).
* The first request with a key claims it atomically (an INSERT that only one caller can win)
  and runs; its response, errors included, is stored and replayed to every later request
  with the same key and the same parameters (``request_hash``).
* The same key with different parameters: 409 ``idempotency_key_reused``.
* The same key while the first request still runs: 409 ``idempotency_key_in_use``.
* A claim whose lock expired (the process that held it died) may be taken over by the next
  retry, which then resumes the work. Gateway calls use keys derived from the merchant's key
  (:func:`gateway_key`), so a resumed call is a no-op at the processor.
* Errors of 500 and above (the processor did not answer, say) and 409 conflicts with other
  requests are not stored: the claim is released, so a retry with the same key runs again
  (and resumes the operation, getting its real outcome).
* Keys are pruned after 24 hours (:func:`prune_idempotency_keys`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from cardshield.errors import CardshieldError
from cardshield.payments.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    replayed_error,
)
from cardshield.storage.schema import idempotency_keys as K

MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
DEFAULT_LOCK_TTL = timedelta(seconds=60)
_CLAIM_ATTEMPTS = 5

Response = tuple[int, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to run the request for one key, until ``locked_until``."""

    merchant_id: str
    key: str
    epoch: datetime  # when the key was first used: stable across takeovers
    locked_until: datetime
    taken_over: bool  # True when an earlier holder died (resume its work)


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    body: dict[str, Any]
    payment_id: str | None


def storable(exc: CardshieldError) -> bool:
    """Whether an error is the request's answer (stored and replayed) or a passing state:
    5xx (the outcome is unknown) and 409 (a conflict with another request) are not stored,
    as Stripe does not store them; a retry with the same key runs again."""
    return exc.http_status < 500 and exc.http_status != 409


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(param="idempotency_key")
    return key


def request_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 of the request's parameters as canonical JSON."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def gateway_key(merchant_id: str, key: str, epoch: datetime, kind: str, ordinal: int = 0) -> str:
    """The processor idempotency key for one gateway call of an idempotent request.

    Deterministic in the merchant, their key, the key's first use and the call, so a retry
    (or a takeover after a crash) sends the processor the key it saw before.
    """
    material = json.dumps(
        ["cardshield.gateway-key.v1", merchant_id, key, epoch.isoformat(), kind, ordinal]
    )
    return "cs_" + hashlib.sha256(material.encode()).hexdigest()[:48]


def gateway_key_for(merchant_id: str, held: Claim | None, kind: str) -> str:
    """The derived key for an idempotent request, a random one otherwise."""
    if held is None:
        return "cs_" + secrets.token_hex(24)
    return gateway_key(merchant_id, held.key, held.epoch, kind)


def claim(
    engine: Engine,
    *,
    merchant_id: str,
    key: str,
    request_hash: str,
    now: datetime,
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
) -> Claim | Stored:
    """Claim ``key`` for this request, or return the stored response; raise a 409 else."""
    check_key(key)
    locked_until = now + lock_ttl
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            # Each attempt in its own transaction: on PostgreSQL a failed INSERT aborts it.
            with engine.begin() as conn:
                conn.execute(
                    K.insert().values(
                        merchant_id=merchant_id,
                        key=key,
                        request_hash=request_hash,
                        status="in_progress",
                        locked_until=locked_until,
                        created_at=now,
                    )
                )
            return Claim(merchant_id, key, now, locked_until, taken_over=False)
        except IntegrityError:
            pass
        with engine.begin() as conn:
            row = conn.execute(
                select(K).where(K.c.merchant_id == merchant_id, K.c.key == key)
            ).first()
            if row is None:
                continue  # pruned in between: try the INSERT again
            if row.request_hash != request_hash:
                raise IdempotencyKeyReused(param="idempotency_key")
            if row.status == "done":
                return Stored(row.response_status, json.loads(row.response_body), row.payment_id)
            if row.locked_until is not None and row.locked_until > now:
                raise IdempotencyKeyInUse(param="idempotency_key")
            # The holder's lock expired: take over, unless another retry just did.
            taken = conn.execute(
                update(K)
                .where(
                    K.c.merchant_id == merchant_id,
                    K.c.key == key,
                    K.c.status == "in_progress",
                    K.c.locked_until == row.locked_until,
                )
                .values(locked_until=locked_until)
            )
            if taken.rowcount == 1:
                return Claim(merchant_id, key, row.created_at, locked_until, taken_over=True)
    raise IdempotencyKeyInUse(param="idempotency_key")


def complete(
    engine: Engine, held: Claim, status: int, body: dict[str, Any], payment_id: str | None = None
) -> bool:
    """Store the response; False if another request took the key over meanwhile."""
    with engine.begin() as conn:
        done = conn.execute(
            update(K)
            .where(*_held_by(held))
            .values(
                status="done",
                locked_until=None,
                response_status=status,
                response_body=json.dumps(body, separators=(",", ":")),
                payment_id=payment_id,
            )
        )
    return done.rowcount == 1


def release(engine: Engine, held: Claim, *, now: datetime, payment_id: str | None = None) -> None:
    """Give the key up without a response: the next retry takes over at once."""
    values: dict[str, Any] = {"locked_until": now}
    if payment_id is not None:
        values["payment_id"] = payment_id
    with engine.begin() as conn:
        conn.execute(update(K).where(*_held_by(held)).values(**values))


def _held_by(held: Claim) -> list[Any]:
    return [
        K.c.merchant_id == held.merchant_id,
        K.c.key == held.key,
        K.c.status == "in_progress",
        K.c.locked_until == held.locked_until,
    ]


def run_claimed(
    engine: Engine,
    *,
    merchant_id: str,
    key: str,
    request_hash: str,
    now: datetime,
    fn: Callable[[Claim], Response],
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
    payment_id_of: Callable[[dict[str, Any]], str | None] = lambda body: None,
) -> tuple[int, dict[str, Any], bool]:
    """Like :func:`run_idempotent`, giving ``fn`` its claim; returns (status, body, replayed)."""
    got = claim(
        engine,
        merchant_id=merchant_id,
        key=key,
        request_hash=request_hash,
        now=now,
        lock_ttl=lock_ttl,
    )
    if isinstance(got, Stored):
        return got.status, got.body, True
    try:
        status, body = fn(got)
    except CardshieldError as exc:
        if not storable(exc):
            # Outcome unknown (processor timeout...): not stored, so a retry resumes it.
            release(engine, got, now=now, payment_id=getattr(exc, "payment_id", None))
            raise
        status, body = exc.http_status, exc.to_dict()
    # Any other exception leaves the claim locked, as a crash would; it expires.
    complete(engine, got, status, body, payment_id_of(body))
    return status, body, False


def run_idempotent(
    engine: Engine,
    *,
    merchant_id: str,
    key: str,
    request_hash: str,
    now: datetime,
    fn: Callable[[], Response],
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
) -> Response:
    """Run ``fn`` once per (merchant, key); replay its first (status, body) afterwards.

    ``fn`` returns (status, body) or raises a :class:`CardshieldError` (4xx: stored as its
    error object; 5xx and 409: not stored, re-raised). The key's own 409s and 400
    ``idempotency_key_invalid`` are raised, never stored.
    """
    status, body, _ = run_claimed(
        engine,
        merchant_id=merchant_id,
        key=key,
        request_hash=request_hash,
        now=now,
        fn=lambda _claim: fn(),
        lock_ttl=lock_ttl,
    )
    return status, body


class View(Protocol):
    """A payment or refund view: what an idempotent payments call returns."""

    def to_dict(self) -> dict[str, Any]: ...


V = TypeVar("V", bound=View)


def run_view(
    engine: Engine,
    *,
    merchant_id: str,
    key: str | None,
    request: Mapping[str, Any],
    now: datetime,
    work: Callable[[Claim | None], V],
    replay: Callable[[dict[str, Any]], V],
    payment_id: Callable[[V], str],
    lock_ttl: timedelta = DEFAULT_LOCK_TTL,
) -> V:
    """Run ``work`` once per key, for service calls that return views and raise errors.

    Without a key ``work(None)`` just runs. A stored success comes back through ``replay``;
    a stored error is raised again with its status and fields (see :func:`run_claimed`).
    """
    if key is None:
        return work(None)
    got = claim(
        engine,
        merchant_id=merchant_id,
        key=key,
        request_hash=request_hash(request),
        now=now,
        lock_ttl=lock_ttl,
    )
    if isinstance(got, Stored):
        if got.status >= 400:
            raise replayed_error(got.status, got.body)
        return replay(got.body)
    try:
        view = work(got)
    except CardshieldError as exc:
        if not storable(exc):  # outcome unknown or a passing conflict: a retry runs again
            release(engine, got, now=now, payment_id=getattr(exc, "payment_id", None))
            raise
        complete(engine, got, exc.http_status, exc.to_dict())
        raise
    complete(engine, got, 200, view.to_dict(), payment_id(view))
    return view


def prune_idempotency_keys(
    engine: Engine, now: datetime, *, older_than: timedelta = RETENTION
) -> int:
    """Delete finished keys older than 24 hours (and abandoned claims as old); count."""
    with engine.begin() as conn:
        result = conn.execute(delete(K).where(K.c.created_at < now - older_than))
    return int(result.rowcount)
