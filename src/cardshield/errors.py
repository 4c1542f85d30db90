"""The cardshield exception tree.

Every error cardshield raises on purpose derives from :class:`CardshieldError` and carries
the fields of the public error object (``type``, ``code``, ``message``, ``param``) plus the
HTTP status a boundary should answer with. Third-party errors are translated where they
enter (``raise OurError(...) from exc``). No message ever contains card data: card errors
are raised with fixed messages and never format the offending value.

::

    CardshieldError                      type             status
    ├── ConfigError                      config_error      500  (refuse to start)
    ├── InvalidRequestError              invalid_request   400
    │   ├── CardDataInText               card_data_in_text (a free-text field holds card data)
    │   └── CardError                    card_error        402 / 400
    │       ├── InvalidNumber            invalid_number
    │       ├── IncorrectNumber          incorrect_number  (Luhn check failed)
    │       ├── UnsupportedBrand         unsupported_brand
    │       ├── InvalidExpiry            invalid_expiry
    │       ├── ExpiredCard              expired_card
    │       └── InvalidCVC               invalid_cvc
    └── InternalError                    api_error         500
"""

from __future__ import annotations

from typing import ClassVar


class CardshieldError(Exception):
    """Base of every error cardshield raises deliberately."""

    type: ClassVar[str] = "api_error"
    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        super().__init__(self.message)

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        """The public error object: ``{"error": {"type", "code", "message", "param"}}``."""
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }


class ConfigError(CardshieldError):
    """A setting is missing or invalid; the process refuses to start."""

    type = "config_error"
    code = "invalid_setting"
    default_message = "Invalid configuration."


class InvalidRequestError(CardshieldError):
    """The caller sent something we cannot act on."""

    type = "invalid_request_error"
    code = "invalid_request"
    http_status = 400
    default_message = "The request is invalid."


class CardDataInText(InvalidRequestError):
    """A free-text field (description, metadata, URL, reason) holds a card number or other
    card data. It is refused rather than stored: ``param`` names the field, never the value."""

    code = "card_data_in_text"
    default_message = (
        "This field holds what looks like card data. Card numbers go only through the "
        "hosted fields; send a token instead."
    )


class CardError(InvalidRequestError):
    """Card data failed validation. Messages are fixed and never include the value."""

    type = "card_error"
    code = "card_error"
    http_status = 402
    default_message = "The card data is invalid."


class InvalidNumber(CardError):
    code = "invalid_number"
    default_message = "The card number is not a valid card number."


class IncorrectNumber(CardError):
    code = "incorrect_number"
    default_message = "The card number is incorrect (check digit mismatch)."


class UnsupportedBrand(CardError):
    code = "unsupported_brand"
    default_message = "The card brand is not supported."


class InvalidExpiry(CardError):
    code = "invalid_expiry"
    default_message = "The expiry date is invalid."


class ExpiredCard(CardError):
    code = "expired_card"
    default_message = "The card has expired."


class InvalidCVC(CardError):
    code = "invalid_cvc"
    default_message = "The security code is invalid."


class InternalError(CardshieldError):
    """An unexpected failure, reported without detail to clients."""
