"""Periodic jobs a server process runs beside the API: sealing the audit chain, purging
expired card data, watching card-data access volume. Each job is safe to run on every node
at once (the work itself takes the database locks it needs), so no node is special.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cardshield.runtime import Runtime
from cardshield.security.audit_seal import seal
from cardshield.security.monitor import watch_card_access

log = logging.getLogger("cardshield.background")


@dataclass(frozen=True)
class Job:
    name: str
    every_s: float
    run: Callable[[datetime], object]


def default_jobs(runtime: Runtime) -> list[Job]:
    return [
        Job("audit.seal", 5.0, lambda now: seal(runtime.engine, runtime.kms, now=now)),
        Job("vault.purge", 3600.0, lambda now: runtime.vault.purge(now=now, actor="purge")),
        Job("security.card_access", 60.0, lambda now: watch_card_access(runtime.engine, now=now)),
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
