"""The delivery worker against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from cardshield.client import verify_webhook
from cardshield.payments.webhooks import RetryPolicy, deliver_due
from cardshield.payments.webhooks.delivery import UNREACHABLE
from cardshield.storage.schema import webhook_attempts, webhook_deliveries
from tests.unit.payments.webhooks.conftest import NOW, add_endpoint, emit
from tests.unit.payments.webhooks.receiver import Receiver

FAST = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=8), max_attempts=50)
TYPES = ("payment.created", "payment.authorized", "payment.captured", "payment.refunded")


def _statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.status, func.count()).group_by(webhook_deliveries.c.status)
        ).all()
    return {r[0]: r[1] for r in rows}


def _emit_interleaved(engine: Engine, payments: int) -> dict[str, list[str]]:
    """Events for several payments, emitted interleaved; returns the order per payment."""
    order: dict[str, list[str]] = defaultdict(list)
    for kind in TYPES:
        for p in range(payments):
            order[f"pay_{p}"].append(emit(engine, kind, f"pay_{p}", step=kind))
    return order


def _assert_in_order(received: list[dict[str, object]], order: dict[str, list[str]]) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for event in received:
        data = event["data"]
        assert isinstance(data, dict)
        seen[str(data["id"])].append(str(event["id"]))
    assert dict(seen) == dict(order)


def test_receiver_down_for_a_while(engine: Engine, receiver: Receiver, http: httpx.Client) -> None:
    _, secret = add_endpoint(engine, receiver.url)
    order = _emit_interleaved(engine, payments=3)
    receiver.status = 503
    now = NOW
    for round_no in range(40):
        if round_no == 5:
            receiver.status = 200  # the receiver comes back
        receiver.sim_now = now
        while deliver_due(
            engine, now=now, owner="w1", http=http, retry=FAST, allow_http_loopback=True
        ):
            pass
        if _statuses(engine).get("pending", 0) == 0:
            break
        now += FAST.cap  # every retry scheduled so far is due by then
    assert _statuses(engine) == {"delivered": 12}
    everything = receiver.all()
    assert any(r.answered == 503 for r in everything)
    # Every event delivered exactly once, and in order per payment.
    delivered = [r.event for r in receiver.delivered()]
    assert len(delivered) == 12 and len({e["id"] for e in delivered}) == 12
    _assert_in_order(delivered, order)
    # Nothing ever overtook an earlier event of its payment, not even a failed attempt.
    position = {evt: i for events in order.values() for i, evt in enumerate(events)}
    last: dict[str, int] = {}
    for r in everything:
        pay, idx = r.event["data"]["id"], position[r.event["id"]]
        assert idx >= last.get(pay, 0)
        last[pay] = idx
    # Every request carried a signature that verifies at the time it arrived.
    for r in everything:
        assert r.at is not None
        assert verify_webhook(r.body, r.signature, secret, now=r.at)["id"] == r.event["id"]
    with engine.connect() as conn:
        attempts = conn.execute(select(webhook_attempts)).all()
    assert len(attempts) == len(everything)
    failed = [a for a in attempts if a.status_code == 503]
    assert failed and all(a.error == "HTTP 503" and a.duration_ms >= 0 for a in failed)


@pytest.mark.slow
def test_concurrent_workers_never_double_deliver(engine: Engine, receiver: Receiver) -> None:
    add_endpoint(engine, receiver.url)
    second_url = receiver.url.replace("/hook", "/second")
    add_endpoint(engine, second_url, events=("payment.captured",))
    order = _emit_interleaved(engine, payments=10)  # 40 events, 50 deliveries
    receiver.delay = 0.002  # widen the window between claim and record
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with httpx.Client() as client:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if (
                        deliver_due(
                            engine,
                            now=NOW,
                            owner=name,
                            http=client,
                            batch=3,
                            allow_http_loopback=True,
                        )
                        == 0
                    ):
                        if _statuses(engine).get("pending", 0) == 0:
                            return
                        time.sleep(0.005)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"node{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _statuses(engine) == {"delivered": 50}
    hook = [r.event for r in receiver.all() if r.path == "/hook"]
    second = [r.event for r in receiver.all() if r.path == "/second"]
    assert len(hook) == 40 and len({e["id"] for e in hook}) == 40  # never twice
    assert len(second) == 10 and len({e["id"] for e in second}) == 10
    _assert_in_order(hook, order)
    with engine.connect() as conn:
        owners = conn.execute(select(func.count()).select_from(webhook_attempts)).scalar_one()
    assert owners == 50


class _Ceiling(random.Random):
    """Always the top of the jitter range, to read the schedule's ceilings exactly."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_schedule_and_give_up(
    sqlite_engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    policy = RetryPolicy(max_attempts=4)  # base 5 s, cap 1 h
    assert [policy.ceiling(n) for n in (1, 2, 3, 4, 10, 11, 12, 500)] == [
        5,
        10,
        20,
        40,
        2560,
        3600,
        3600,
        3600,
    ]
    add_endpoint(sqlite_engine, receiver.url)
    emit(sqlite_engine, "payment.failed", "pay_1")
    receiver.status = 500
    now, gaps = NOW, []
    for _ in range(6):
        deliver_due(
            sqlite_engine,
            now=now,
            owner="w",
            http=http,
            retry=policy,
            rng=_Ceiling(),
            allow_http_loopback=True,
        )
        with sqlite_engine.connect() as conn:
            row = conn.execute(select(webhook_deliveries)).one()
        if row.status == "failed":
            break
        gaps.append((row.next_attempt_at - now).total_seconds())
        # One second early: not due yet, nothing is sent.
        before = len(receiver.all())
        deliver_due(
            sqlite_engine,
            now=row.next_attempt_at - timedelta(seconds=1),
            owner="w",
            http=http,
            retry=policy,
            allow_http_loopback=True,
        )
        assert len(receiver.all()) == before
        now = row.next_attempt_at
    assert [round(g) for g in gaps] == [5, 10, 20]
    assert row.status == "failed" and row.attempts == 4 and row.last_status_code == 500
    assert len(receiver.all()) == 4
    # Full jitter: delays spread over [0, ceiling], not pinned to it.
    rng = random.Random(7)
    draws = [policy.delay(3, rng).total_seconds() for _ in range(200)]
    assert all(0 <= d <= 20 for d in draws) and min(draws) < 5 and max(draws) > 15
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(base=timedelta(0))
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(max_attempts=0)


def test_transport_failures_redirects_and_timeouts_are_retried(
    sqlite_engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    # A closed port: connection refused.
    closed = Receiver()
    closed_url = closed.url
    closed.server.server_close()
    add_endpoint(sqlite_engine, closed_url, events=("payment.voided",))
    add_endpoint(sqlite_engine, receiver.url, events=("payment.captured",))
    add_endpoint(
        sqlite_engine, receiver.url.replace("/hook", "/slow"), events=("payment.refunded",)
    )
    emit(sqlite_engine, "payment.voided", "pay_a")
    emit(sqlite_engine, "payment.captured", "pay_b")
    receiver.status = 302  # redirects are failures and are not followed
    deliver_due(sqlite_engine, now=NOW, owner="w", http=http, retry=FAST, allow_http_loopback=True)
    receiver.delay = 1.5
    emit(sqlite_engine, "payment.refunded", "pay_c")
    deliver_due(
        sqlite_engine,
        now=NOW,
        owner="w",
        http=http,
        retry=FAST,
        timeout=0.5,
        lease=timedelta(seconds=5),
        allow_http_loopback=True,
    )
    with sqlite_engine.connect() as conn:
        rows = {
            r.object_id: r
            for r in conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        }
    assert rows["pay_a"].status == "pending" and rows["pay_a"].last_status_code is None
    assert rows["pay_a"].last_error == UNREACHABLE  # the cause is in the server log only
    assert rows["pay_b"].last_status_code == 302 and rows["pay_b"].status == "pending"
    assert rows["pay_c"].last_error == UNREACHABLE and rows["pay_c"].last_status_code is None
    assert not any(r.path == "/elsewhere" for r in receiver.all())


def test_failed_delivery_no_longer_blocks_later_ones(
    sqlite_engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(sqlite_engine, receiver.url)
    first = emit(sqlite_engine, "payment.authorized", "pay_1")
    second = emit(sqlite_engine, "payment.captured", "pay_1")
    receiver.status = 500
    one_shot = RetryPolicy(max_attempts=1)
    assert (
        deliver_due(
            sqlite_engine, now=NOW, owner="w", http=http, retry=one_shot, allow_http_loopback=True
        )
        == 1
    )  # only the first is due
    receiver.status = 200
    assert deliver_due(sqlite_engine, now=NOW, owner="w", http=http, allow_http_loopback=True) == 1
    assert [r.event["id"] for r in receiver.all()] == [first, second]
    assert _statuses(sqlite_engine) == {"failed": 1, "delivered": 1}


def test_leases_keep_other_workers_off_and_expire(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(engine, receiver.url)
    emit(engine, "payment.authorized", "pay_1")
    with engine.begin() as conn:
        conn.execute(
            update(webhook_deliveries).values(
                lease_owner="crashed", leased_until=NOW + timedelta(seconds=30)
            )
        )
    assert deliver_due(engine, now=NOW, owner="w", http=http, allow_http_loopback=True) == 0
    assert receiver.all() == []
    later = NOW + timedelta(seconds=31)
    assert deliver_due(engine, now=later, owner="w", http=http, allow_http_loopback=True) == 1
    assert len(receiver.delivered()) == 1
    with pytest.raises(ValueError, match="lease must outlast"):
        deliver_due(engine, now=NOW, owner="w", http=http, timeout=30)


def test_stop_hands_back_the_rest_of_the_batch(
    engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(engine, receiver.url)
    for p in range(5):
        emit(engine, "payment.captured", f"pay_{p}")
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    handled = deliver_due(
        engine,
        now=NOW,
        owner="w",
        http=http,
        should_stop=stop_after_two,
        allow_http_loopback=True,
    )
    assert handled == 2 and len(receiver.all()) == 2
    with engine.connect() as conn:
        leased = conn.execute(
            select(func.count()).where(webhook_deliveries.c.lease_owner.is_not(None))
        ).scalar_one()
    assert leased == 0  # the other three are free for any worker right away
    assert deliver_due(engine, now=NOW, owner="other", http=http, allow_http_loopback=True) == 3


def test_insecure_url_is_never_posted_without_the_loopback_option(
    sqlite_engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    add_endpoint(sqlite_engine, receiver.url)
    emit(sqlite_engine, "payment.captured", "pay_1")
    assert deliver_due(sqlite_engine, now=NOW, owner="w", http=http) == 1
    assert receiver.all() == []
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(webhook_deliveries)).one()
    assert row.status == "failed" and "https" in row.last_error


def test_run_forever_delivers_and_stops(sqlite_engine: Engine, receiver: Receiver) -> None:
    from cardshield.payments.webhooks import run_forever

    add_endpoint(sqlite_engine, receiver.url)
    emit(sqlite_engine, "payment.captured", "pay_1")
    stop = threading.Event()
    clock_calls: list[datetime] = []

    def clock() -> datetime:
        clock_calls.append(NOW)
        return NOW

    with httpx.Client() as client:
        thread = threading.Thread(
            target=run_forever,
            args=(sqlite_engine,),
            kwargs={
                "owner": "loop",
                "http": client,
                "stop": stop,
                "idle": 0.05,
                "clock": clock,
                "allow_http_loopback": True,
            },
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(receiver.delivered()) == 1 and len(clock_calls) >= 1


def test_no_card_data_leaves_even_if_an_event_holds_some(
    sqlite_engine: Engine, receiver: Receiver, http: httpx.Client
) -> None:
    import io

    from cardshield.redaction.logging import configure_logging
    from cardshield.storage.schema import events
    from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data

    endpoint_id, secret = add_endpoint(sqlite_engine, receiver.url)
    # Written past the outbox (which redacts), as a bug elsewhere might.
    with sqlite_engine.begin() as conn:
        conn.execute(
            events.insert().values(
                id="evt_raw",
                merchant_id="mer_shop",
                type="payment.failed",
                object_id="pay_1",
                data={"note": f"card {CANARY_PAN}", "cvv": CANARY_CVV, "nested": [CANARY_PAN]},
                created_at=NOW,
            )
        )
        conn.execute(
            webhook_deliveries.insert().values(
                event_id="evt_raw",
                endpoint_id=endpoint_id,
                merchant_id="mer_shop",
                object_id="pay_1",
                status="pending",
                attempts=0,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
    root = logging.getLogger()
    saved = list(root.handlers), root.level, logging.getLogRecordFactory()
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    try:
        assert (
            deliver_due(sqlite_engine, now=NOW, owner="w", http=http, allow_http_loopback=True) == 1
        )
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.setLogRecordFactory(saved[2])
    (got,) = receiver.delivered()
    assert_no_card_data(got.body)
    assert CANARY_CVV not in got.body.decode()
    assert "424242******4242" in got.body.decode()
    assert verify_webhook(got.body, got.signature, secret, now=NOW)["id"] == "evt_raw"
    assert "webhook.attempt" in stream.getvalue()
    assert_no_card_data(stream.getvalue())
