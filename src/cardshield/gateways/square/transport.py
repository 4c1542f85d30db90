"""HTTP for a connector: one httpx client, retries only where a replay is safe.

A request is tried again, after an exponential backoff with full jitter, when

* it never reached the processor (connection refused, connect or pool timeout): always
  safe; or
* the caller marks it idempotent (it carries an idempotency key, so the processor answers a
  repeat with the first attempt's result) and it timed out, lost its connection, or got 429
  or a 5xx.

Every other answer goes back to the caller at once. When the tries run out, a request whose
outcome is unknown (read timeout, dropped connection, 504) raises
:class:`~cardshield.gateways.base.GatewayTimeout`; one that certainly did not happen raises
:class:`~cardshield.gateways.base.GatewayError`. Log lines name the method, path, status and
attempt, never a body or a header value.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from cardshield.gateways.base import GatewayError, GatewayTimeout

# Worth another try for an idempotent request: rate limited, or the server side failed.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Failures that happen before a byte of the request left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0

    def delay(self, retry: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retry)], so clients spread out."""
        return rng() * min(self.max_delay_s, self.base_delay_s * 2.0**retry)


class TransportFailure(Exception):
    """Stands in for an httpx exception as ``__cause__``: its class name, nothing else."""


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return None  # absent, or an HTTP date: fall back to the backoff


class Transport:
    """Sends JSON requests through one ``httpx.Client`` and applies :class:`RetryPolicy`."""

    def __init__(
        self,
        name: str,
        client: httpx.Client,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._name = name
        self._log = logging.getLogger(f"cardshield.gateways.{name}")
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._rng = rng

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        attempts = max(1, self._policy.attempts)
        wait: float | None = None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self._sleep(
                    wait if wait is not None else self._policy.delay(attempt - 2, self._rng)
                )
                wait = None
            last = attempt == attempts
            failure: GatewayError | None = None
            try:
                response = self._client.request(method, path, json=json, headers=headers)
            except _NOT_SENT as exc:
                self._note("not sent", method, path, attempt, exc)
                if not last:
                    continue
                failure = GatewayError(f"Could not connect to {self._name}.")
                failure.__cause__ = TransportFailure(type(exc).__name__)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                # Sent, but no answer: the processor may have acted on it.
                self._note("no answer", method, path, attempt, exc)
                if idempotent and not last:
                    continue
                failure = GatewayTimeout()
                failure.__cause__ = TransportFailure(type(exc).__name__)
            if failure is not None:
                # Raised outside the except block, so the httpx exception (whose request
                # still holds the body, card included) is neither cause nor context.
                raise failure
            self._log.info(
                "%s %s %s -> %d (attempt %d)",
                self._name,
                method,
                path,
                response.status_code,
                attempt,
            )
            if response.status_code in RETRY_STATUSES and idempotent and not last:
                wait = _retry_after(response, self._policy.max_delay_s)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _note(self, what: str, method: str, path: str, attempt: int, exc: Exception) -> None:
        # The exception's type only: its text could quote the request.
        self._log.warning(
            "%s %s %s %s (attempt %d): %s",
            self._name,
            method,
            path,
            what,
            attempt,
            type(exc).__name__,
        )
