"""Errors raised by :mod:`cardshield.security`.

::

    CardshieldError
    ├── AuditError              api_error              500  the audit log cannot be sealed/read
    ├── InvalidApiKey           authentication_error   401  unknown, malformed or revoked key
    ├── InsufficientScope       permission_error       403  the key lacks the scope needed
    ├── InvalidRequestError
    │   ├── ApiKeyNotFound      invalid_request_error  404  no such key for this merchant
    │   ├── WeakPassword        invalid_request_error  400  too short / common / contains name
    │   ├── OperatorNotFound    invalid_request_error  404  no such operator
    │   ├── OperatorExists      invalid_request_error  409  username already taken
    │   ├── SecurityKeyRejected invalid_request_error  400  a key's answer did not verify
    │   ├── SecurityKeyNotFound invalid_request_error  404  no such key for this operator
    │   ├── TooManySecurityKeys invalid_request_error  409  the operator has 10 keys
    │   └── SecurityKeysUnavailable
    │                           invalid_request_error  409  console not at a host name
    ├── SignInFailed            authentication_error   401  wrong password/code, or locked
    ├── SessionRequired         authentication_error   401  no valid console session
    ├── PermissionDenied        permission_error       403  the operator's role lacks it
    ├── ReauthRequired          permission_error       403  sensitive: confirm identity again
    ├── CsrfInvalid             permission_error       403  missing or wrong CSRF token
    ├── RateLimited             rate_limit_error       429  too many requests, retry later
    └── CardProbingDetected     rate_limit_error       429  many cards, one BIN and last 4

Messages are fixed: an API key error never repeats the key that was presented, and a sign-in
error never says whether the username, the password or the code was wrong.
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


class WeakPassword(InvalidRequestError):
    """The new password breaks the policy (length, common-password list, own name)."""

    code = "weak_password"
    default_message = "The password does not meet the password policy."


class OperatorNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such operator."


class OperatorExists(InvalidRequestError):
    code = "username_taken"
    http_status = 409
    default_message = "An operator with this username already exists."


class SecurityKeyRejected(InvalidRequestError):
    """A security key's answer to a registration did not verify (or no challenge was open)."""

    code = "security_key_rejected"
    default_message = "The security key's answer could not be verified. Try again."


class SecurityKeyNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such security key."


class TooManySecurityKeys(InvalidRequestError):
    code = "too_many_security_keys"
    http_status = 409
    default_message = "An operator can have at most 10 security keys. Remove one first."


class SecurityKeysUnavailable(InvalidRequestError):
    code = "security_keys_unavailable"
    http_status = 409
    default_message = (
        "Security keys need the console served under a host name over HTTPS (or localhost):"
        " set console_url."
    )


class SignInFailed(CardshieldError):
    """Any failed sign-in step; one message whatever the reason, so nothing is enumerable."""

    type = "authentication_error"
    code = "sign_in_failed"
    http_status = 401
    default_message = (
        "Sign-in failed. Check your username, password and code; after 10 failed attempts "
        "an account is locked for 30 minutes."
    )

    def __init__(self) -> None:
        super().__init__()


class SessionRequired(CardshieldError):
    type = "authentication_error"
    code = "session_required"
    http_status = 401
    default_message = "Sign in to continue."


class PermissionDenied(CardshieldError):
    type = "permission_error"
    code = "permission_denied"
    http_status = 403
    default_message = "Your role does not allow this."


class ReauthRequired(CardshieldError):
    type = "permission_error"
    code = "reauthentication_required"
    http_status = 403
    default_message = "Confirm your password and code to continue."


class CsrfInvalid(CardshieldError):
    type = "permission_error"
    code = "csrf_invalid"
    http_status = 403
    default_message = "The form has expired or did not come from this console. Reload it."


class RateLimited(CardshieldError):
    """Too many requests of one kind from one client; ``retry_after`` is in seconds."""

    type = "rate_limit_error"
    code = "rate_limited"
    http_status = 429
    default_message = "Too many requests. Try again later."

    def __init__(self, retry_after: int = 60) -> None:
        super().__init__()
        self.retry_after = retry_after


class CardProbingDetected(CardshieldError):
    """Too many different cards with one BIN and last 4 from one key or merchant
    (:mod:`cardshield.security.probing`); ``retry_after`` is in seconds."""

    type = "rate_limit_error"
    code = "card_probing_detected"
    http_status = 429
    default_message = (
        "Too many different cards with the same first six and last four digits. Try again later."
    )

    def __init__(self, retry_after: int = 3600) -> None:
        super().__init__()
        self.retry_after = retry_after
