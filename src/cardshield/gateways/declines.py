"""Unified decline codes: every connector maps its processor's raw code onto these.

A decline keeps the raw code beside the unified one (for support and reconciliation) and
says whether retrying the same card can succeed and what to tell the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeclineCode(StrEnum):
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    INCORRECT_NUMBER = "incorrect_number"
    DO_NOT_HONOR = "do_not_honor"
    FRAUDULENT = "fraudulent"
    LOST_OR_STOLEN = "lost_or_stolen"
    AUTHENTICATION_REQUIRED = "authentication_required"
    PROCESSING_ERROR = "processing_error"
    LIMIT_EXCEEDED = "limit_exceeded"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    INVALID_REQUEST = "invalid_request"


# What the customer may be told; never the raw processor text (it can leak risk rules).
_USER_MESSAGES = {
    DeclineCode.CARD_DECLINED: "Your card was declined.",
    DeclineCode.INSUFFICIENT_FUNDS: "Your card has insufficient funds.",
    DeclineCode.EXPIRED_CARD: "Your card has expired.",
    DeclineCode.INCORRECT_CVC: "Your card's security code is incorrect.",
    DeclineCode.INCORRECT_NUMBER: "Your card number is incorrect.",
    DeclineCode.DO_NOT_HONOR: "Your card was declined.",
    DeclineCode.FRAUDULENT: "Your card was declined.",
    DeclineCode.LOST_OR_STOLEN: "Your card was declined.",
    DeclineCode.AUTHENTICATION_REQUIRED: "Your bank requires you to authenticate this payment.",
    DeclineCode.PROCESSING_ERROR: "An error occurred while processing your card. Try again.",
    DeclineCode.LIMIT_EXCEEDED: "Your card's limit was exceeded.",
    DeclineCode.CURRENCY_NOT_SUPPORTED: "Your card does not support this currency.",
    DeclineCode.INVALID_REQUEST: "The payment could not be processed.",
}

# Worth retrying later with the same card (a different card is always worth trying).
_RETRYABLE = {DeclineCode.PROCESSING_ERROR, DeclineCode.INSUFFICIENT_FUNDS}


@dataclass(frozen=True, slots=True)
class Decline:
    code: DeclineCode
    raw_code: str
    raw_message: str = ""

    @property
    def retryable(self) -> bool:
        return self.code in _RETRYABLE

    @property
    def user_message(self) -> str:
        return _USER_MESSAGES[self.code]


def from_map(mapping: dict[str, DeclineCode], raw_code: str, raw_message: str = "") -> Decline:
    """Look a raw code up in a connector's map; unknown codes are generic declines."""
    return Decline(mapping.get(raw_code, DeclineCode.CARD_DECLINED), raw_code, raw_message)
