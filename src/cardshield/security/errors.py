"""Errors raised by :mod:`cardshield.security`.

::

    CardshieldError
    ├── AuditError              api_error              500  the audit log cannot be sealed/read
    ├── InvalidApiKey           authentication_error   401  unknown, malformed or revoked key
    ├── InsufficientScope       permission_error       403  the key lacks the scope needed
    └── InvalidRequestError
        └── ApiKeyNotFound      invalid_request_error  404  no such key for this merchant

Messages are fixed: an API key error never repeats the key that was presented.
"""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class AuditError(CardshieldError):
    """The audit log could not be sealed or read (not: tampering was found)."""

    code = "audit_error"
    default_message = "The audit log could not be processed."


class InvalidApiKey(CardshieldError):
    """The presented API key is unknown, malformed or revoked (never says which)."""

    type = "authentication_error"
    code = "invalid_api_key"
    http_status = 401
    default_message = "Invalid API key provided."

    def __init__(self) -> None:
        # No message argument: nothing about the presented key may reach the response.
        super().__init__()


class InsufficientScope(CardshieldError):
    """The API key is valid but does not carry the scope this operation needs."""

    type = "permission_error"
    code = "insufficient_scope"
    http_status = 403
    default_message = "The API key does not have the scope required for this request."


class ApiKeyNotFound(InvalidRequestError):
    """No API key with this id belongs to the merchant."""

    code = "resource_missing"
    http_status = 404
    default_message = "No such API key."
