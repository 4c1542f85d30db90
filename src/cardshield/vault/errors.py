"""Errors the vault raises; each maps to a public error code."""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class TokenNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such token."


class TokenAlreadyUsed(InvalidRequestError):
    code = "token_already_used"
    default_message = "This single-use token has already been used."


class TokenExpired(InvalidRequestError):
    code = "token_expired"
    default_message = "This token has expired."


class TokenSpaceExhausted(InvalidRequestError):
    code = "token_space_exhausted"
    http_status = 409
    default_message = "No free format-preserving token for this card: use a random token."


class MerchantNotFound(InvalidRequestError):
    code = "merchant_missing"
    http_status = 404
    default_message = "No such merchant."


class VolatileStoreError(CardshieldError):
    """The volatile CVV store is unreachable or unsafe (for instance, Redis persists to disk)."""

    code = "volatile_store_unavailable"
    http_status = 503
    default_message = "The volatile store is unavailable."
