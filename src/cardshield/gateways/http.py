"""HTTP plumbing shared by the processor connectors: one httpx client, retries, errors.

:class:`ProcessorClient` sends one logical request and decides, per attempt, whether a
failure may be retried:

* nothing was sent (connection refused, connect/pool timeout): always retried, the
  processor cannot have acted on a request it never received;
* anything else (read timeout, dropped connection, 429, 5xx): retried with exponential
  backoff and full jitter **only** when the caller says the request is idempotent (a
  GET, a read-only search, or a POST carrying an idempotency key the processor honours).

:func:`status_error` is the one place that turns an HTTP status into an exception, and
:func:`transport_error` the one place for httpx's exceptions. Card data never reaches an
error: messages are fixed or pass through :func:`safe_text`, and the original httpx
exception (whose ``request`` still holds the body with the card number) is replaced by a
:class:`TransportFailure` that keeps only its class name and redacted text.

A processor's response passes :func:`cardshield.redaction.scrub.scrub` before it is
returned as ``GatewayResult.raw``.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx

from cardshield.gateways.base import GatewayError, GatewayTimeout
from cardshield.redaction.text import redact

log = logging.getLogger(__name__)

# Statuses worth another try when the request is idempotent.
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


class ProcessorAuthError(GatewayError):
    """The processor refused our credentials (401/403): a configuration problem."""

    code = "gateway_authentication_failed"
    default_message = "The payment processor rejected the configured credentials."


class ProcessorRateLimited(GatewayError):
    """Too many requests (429), still refused after the allowed retries."""

    code = "gateway_rate_limited"
    http_status = 503
    default_message = "The payment processor is rate limiting requests. Try again later."


class ProcessorOutcomeUnknown(GatewayTimeout):
    """The processor failed part-way through a mutating request: it may have acted.

    A subclass of :class:`GatewayTimeout`, so callers resolve it the same way: ``sync``.
    """

    code = "gateway_outcome_unknown"
    http_status = 502
    default_message = (
        "The payment processor failed while handling the request; sync to learn the outcome."
    )


class TransportFailure(Exception):
    """Stands in for an httpx exception as ``__cause__``: its class name and redacted text only."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` extra attempts after the first, exponential backoff with full jitter."""

    retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, rand: Callable[[], float]) -> float:
        """Delay before retry number ``attempt`` (0-based): uniform in [0, min(cap, base*2^n)]."""
        return rand() * min(self.max_delay_s, self.base_delay_s * 2.0**attempt)


def safe_text(text: str, limit: int = 300) -> str:
    """Processor text made safe for an error message or a log line: redacted and short."""
    return redact(text)[:limit]


def _failure(exc: Exception) -> TransportFailure:
    return TransportFailure(f"{type(exc).__name__}: {safe_text(str(exc))}")


def transport_error(exc: httpx.HTTPError, *, sent: bool, mutating: bool) -> GatewayError:
    """The exception to raise for an httpx failure, its cause already sanitized."""
    if not sent:
        err: GatewayError = GatewayError("The payment processor could not be reached.")
    elif isinstance(exc, httpx.TimeoutException):
        err = GatewayTimeout()
    elif mutating:
        err = ProcessorOutcomeUnknown()
    else:
        err = GatewayError("The connection to the payment processor failed.")
    err.__cause__ = _failure(exc)
    return err


def status_error(status: int, *, mutating: bool, detail: str = "") -> GatewayError | None:
    """The exception for an HTTP status no connector turns into a result; None for 2xx-4xx."""
    suffix = f" ({safe_text(detail)})" if detail else ""
    if status in (401, 403):
        return ProcessorAuthError(ProcessorAuthError.default_message + suffix)
    if status == 429:
        return ProcessorRateLimited()
    if status == 409 or status >= 500 or status == 424:
        if mutating:
            return ProcessorOutcomeUnknown(
                f"The payment processor answered HTTP {status}; the outcome is unknown."
            )
        return GatewayError(f"The payment processor answered HTTP {status}.")
    return None


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ProcessorClient:
    """An httpx client bound to one processor's base URL, default headers and retry policy.

    ``retry_hint`` lets a processor veto or force a retry of a response (Stripe's
    ``Stripe-Should-Retry`` header); it is consulted only for idempotent requests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        retry_statuses: Iterable[int] = RETRY_STATUSES,
        retry_hint: Callable[[httpx.Response], bool | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._retry_statuses = frozenset(retry_statuses)
        self._retry_hint = retry_hint
        self._sleep = sleep
        self._rand = rand
        self._http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        mutating: bool | None = None,
        content: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; return the final response (any status) or raise GatewayError."""
        mutating = method.upper() not in ("GET", "HEAD") if mutating is None else mutating
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, url, content=content, params=params, headers=headers
                )
            except _NOT_SENT as exc:
                outcome: httpx.Response | GatewayError = transport_error(
                    exc, sent=False, mutating=mutating
                )
                retryable = True
            except httpx.HTTPError as exc:
                outcome = transport_error(exc, sent=True, mutating=mutating)
                retryable = idempotent
            else:
                outcome = response
                retryable = idempotent and self._should_retry(response)
            if not retryable or attempt >= self.policy.retries:
                if isinstance(outcome, GatewayError):
                    log.warning("%s %s failed: %s", method, _path(url), outcome.__cause__)
                    raise outcome
                return outcome
            delay = self._delay(attempt, outcome)
            why = outcome.status_code if isinstance(outcome, httpx.Response) else outcome.__cause__
            log.info("%s %s: retry %d in %.2fs (%s)", method, _path(url), attempt + 1, delay, why)
            self._sleep(delay)
            attempt += 1

    def _should_retry(self, response: httpx.Response) -> bool:
        if self._retry_hint is not None:
            hint = self._retry_hint(response)
            if hint is not None:
                return hint
        return response.status_code in self._retry_statuses

    def _delay(self, attempt: int, outcome: httpx.Response | GatewayError) -> float:
        delay = self.policy.delay(attempt, self._rand)
        after = _retry_after(outcome) if isinstance(outcome, httpx.Response) else None
        if after is not None:
            delay = max(delay, min(after, self.policy.max_retry_after_s))
        return delay


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _path(url: str) -> str:
    # Query strings may carry search terms; the path is enough to follow the flow.
    return url.split("?", 1)[0]
