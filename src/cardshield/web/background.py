"""Periodic jobs a server process runs beside the API: sealing the audit chain, purging
expired card data, watching card-data access volume. Each job is safe to run on every node
at once (the work itself takes the database locks it needs), so no node is special.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from cardshield.payments.idempotency import prune_idempotency_keys
from cardshield.payments.recovery import resume_pending
from cardshield.payments.webhooks.delivery import deliver_due
from cardshield.payments.webhooks.transport import PinnedTransport
from cardshield.phone.calls import CallStore
from cardshield.redaction.logging import get_logger
from cardshield.runtime import Runtime
from cardshield.security.audit_seal import seal
from cardshield.security.monitor import watch_card_access

log = logging.getLogger("cardshield.background")
audit_log = get_logger("cardshield.audit")


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[datetime], object]


def default_jobs(runtime: Runtime) -> list[Job]:
    owner = f"{socket.gethostname()}:{os.getpid()}"  # webhook leases name the node holding them
    allow_loopback = runtime.settings.allow_http_loopback_webhooks
    # Each send resolves the endpoint's host and connects only to a checked public address.
    http = httpx.Client(
        follow_redirects=False, transport=PinnedTransport(allow_loopback=allow_loopback)
    )
    settle_after = max(
        runtime.settings.pending_resolve_seconds, runtime.settings.idempotency_lock_seconds
    )

    # A node that dies holding deliveries delays them by at most one lease; the HTTP timeout
    # stays well inside it so a live holder never loses its lease mid-send.
    lease = timedelta(seconds=runtime.settings.webhook_lease_seconds)
    timeout = min(10.0, lease.total_seconds() / 2)

    def deliver(now: datetime) -> int:
        return deliver_due(
            runtime.engine,
            now=now,
            owner=owner,
            http=http,
            allow_http_loopback=allow_loopback,
            lease=lease,
            timeout=timeout,
        )

    head_file = runtime.settings.effective_audit_head_file

    def seal_audit(now: datetime) -> object:
        report = seal(runtime.engine, runtime.kms, now=now, head_file=head_file)
        if report.stalled_at is not None:  # tampering, or a head file from another database
            audit_log.warning(
                "audit sealer stopped",
                audit_event="seal_stalled",
                seq=report.stalled_at,
                reason=report.stall_reason,
                detail=report.stall_detail,
            )
        return report

    calls = CallStore(runtime.engine)
    call_retention = timedelta(days=runtime.settings.phone_call_retention_days)

    def resume(now: datetime) -> object:
        # Operations left pending by a crash or a processor timeout, once they are not
        # fresh: a live request may still be finishing them.
        return resume_pending(runtime.payments, now=now, older_than=timedelta(seconds=settle_after))

    return [
        Job("audit.seal", 5.0, seal_audit),
        Job("webhooks.deliver", 1.0, deliver),
        Job("payments.resume", min(30.0, max(1.0, settle_after / 2)), resume),
        Job("idempotency.prune", 3600.0, lambda now: prune_idempotency_keys(runtime.engine, now)),
        Job("vault.purge", 3600.0, lambda now: runtime.vault.purge(now=now, actor="purge")),
        Job("security.card_access", 60.0, lambda now: watch_card_access(runtime.engine, now=now)),
        Job("phone.prune", 3600.0, lambda now: calls.prune(before=now - call_retention)),
    ]


class Scheduler:
    """Runs jobs on daemon threads until :meth:`stop`; a failing run is logged and retried."""

    def __init__(self, jobs: list[Job], clock: Callable[[], datetime] | None = None) -> None:
        self._jobs = jobs
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for job in self._jobs:
            thread = threading.Thread(target=self._loop, args=(job,), name=job.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            try:
                job.run(self._clock())
            except Exception:  # keep the job alive; the error is logged (redacted)
                log.exception("background job %s failed", job.name)
            self._stop.wait(job.every_s)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
