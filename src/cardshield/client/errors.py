"""Client-side errors: one class per kind of failure, chosen in one place from the status.

Every error carries what the API said (``type``, ``code``, ``message``, ``param``), the
HTTP status and the ``request_id`` to quote to support.
"""

from __future__ import annotations

from typing import Any


class CardshieldClientError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class APIConnectionError(CardshieldClientError):
    """The request did not get an answer (network, DNS, timeout)."""


class InvalidRequestError(CardshieldClientError):
    """400/404/405/409/413: the request cannot succeed as sent."""


class IdempotencyError(InvalidRequestError):
    """409 for an idempotency key reused with other parameters or still in use."""


class CardError(CardshieldClientError):
    """402: the card was declined or its data is invalid; ``code`` says why."""


class AuthenticationError(CardshieldClientError):
    """401: missing, unknown or revoked API key."""


class PermissionDeniedError(CardshieldClientError):
    """403: the key may not do this (wrong kind of key, missing scope)."""


class RateLimitError(CardshieldClientError):
    """429: slow down; retried automatically."""


class APIError(CardshieldClientError):
    """5xx: a problem on cardshield's or the processor's side; retried when safe."""


def error_from_response(status: int, body: Any, request_id: str | None) -> CardshieldClientError:
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    fields: dict[str, Any] = {
        "status": status,
        "type": err.get("type"),
        "code": err.get("code"),
        "param": err.get("param"),
        "request_id": request_id,
    }
    message = str(err.get("message") or f"HTTP {status}")
    cls: type[CardshieldClientError]
    if status == 402:
        cls = CardError
    elif status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 429:
        cls = RateLimitError
    elif status == 409 and str(fields["code"] or "").startswith("idempotency_key"):
        cls = IdempotencyError
    elif 400 <= status < 500:
        cls = InvalidRequestError
    else:
        cls = APIError
    return cls(message, **fields)
