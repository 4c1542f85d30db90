"""Published test card numbers and the outcome each stands for in the sandbox processor.

Numbers come from the providers' public testing pages (Stripe, Braintree, Adyen). The
sandbox gateway maps a card to its outcome here; the discovery scanner uses the registry to
report test cards with low severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cardshield.cards.brands import Brand


class Outcome(StrEnum):
    SUCCESS = "success"
    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    AUTHENTICATION_REQUIRED = "authentication_required"
    PROCESSING_ERROR = "processing_error"


@dataclass(frozen=True, slots=True)
class TestCard:
    number: str
    brand: Brand
    outcome: Outcome
    providers: tuple[str, ...]
    description: str


def _c(number: str, brand: Brand, outcome: Outcome, providers: str, desc: str) -> TestCard:
    return TestCard(number, brand, outcome, tuple(providers.split(",")), desc)


V, M, A, D, J, DC, U, MA = (
    Brand.VISA,
    Brand.MASTERCARD,
    Brand.AMEX,
    Brand.DISCOVER,
    Brand.JCB,
    Brand.DINERS,
    Brand.UNIONPAY,
    Brand.MAESTRO,
)
OK = Outcome.SUCCESS

TEST_CARDS: tuple[TestCard, ...] = (
    # Stripe: https://docs.stripe.com/testing
    _c("4242424242424242", V, OK, "stripe", "Visa, succeeds"),
    _c("4000056655665556", V, OK, "stripe", "Visa debit, succeeds"),
    _c("5555555555554444", M, OK, "stripe,braintree", "Mastercard, succeeds"),
    _c("2223003122003222", M, OK, "stripe", "Mastercard 2-series, succeeds"),
    _c("5200828282828210", M, OK, "stripe", "Mastercard debit, succeeds"),
    _c("5105105105105100", M, OK, "stripe,braintree", "Mastercard prepaid, succeeds"),
    _c("378282246310005", A, OK, "stripe,braintree", "American Express, succeeds"),
    _c("371449635398431", A, OK, "stripe,braintree", "American Express, succeeds"),
    _c("6011111111111117", D, OK, "stripe,braintree", "Discover, succeeds"),
    _c("6011000990139424", D, OK, "stripe", "Discover, succeeds"),
    _c("3056930009020004", DC, OK, "stripe", "Diners Club, succeeds"),
    _c("36227206271667", DC, OK, "stripe", "Diners Club 14-digit, succeeds"),
    _c("3566002020360505", J, OK, "stripe,braintree", "JCB, succeeds"),
    _c("6200000000000005", U, OK, "stripe", "UnionPay, succeeds"),
    _c("4000000000000002", V, Outcome.GENERIC_DECLINE, "stripe", "Generic decline"),
    _c("4000000000009995", V, Outcome.INSUFFICIENT_FUNDS, "stripe", "Insufficient funds"),
    _c("4000000000000069", V, Outcome.EXPIRED_CARD, "stripe", "Expired card"),
    _c("4000000000000127", V, Outcome.INCORRECT_CVC, "stripe", "Incorrect CVC"),
    _c("4000000000000119", V, Outcome.PROCESSING_ERROR, "stripe", "Processing error"),
    _c("4000000000003220", V, Outcome.AUTHENTICATION_REQUIRED, "stripe", "3DS2 required"),
    _c("4000002500003155", V, Outcome.AUTHENTICATION_REQUIRED, "stripe", "3DS required"),
    # Braintree: https://developer.paypal.com/braintree/docs/reference/general/testing
    _c("4111111111111111", V, OK, "braintree", "Visa, succeeds"),
    _c("4005519200000004", V, OK, "braintree", "Visa, succeeds"),
    _c("4009348888881881", V, OK, "braintree", "Visa, succeeds"),
    _c("4012000033330026", V, OK, "braintree", "Visa, succeeds"),
    _c("4012000077777777", V, OK, "braintree", "Visa, succeeds"),
    _c("4012888888881881", V, OK, "braintree", "Visa, succeeds"),
    _c("4217651111111119", V, OK, "braintree", "Visa, succeeds"),
    _c("4500600000000061", V, OK, "braintree", "Visa, succeeds"),
    _c("378734493671000", A, OK, "braintree", "American Express, succeeds"),
    _c("6011000991300009", D, OK, "braintree", "Discover, succeeds"),
    _c("3530111333300000", J, OK, "braintree", "JCB, succeeds"),
    _c("6304000000000000", MA, OK, "braintree", "Maestro, succeeds"),
    _c("4000111111111115", V, Outcome.GENERIC_DECLINE, "braintree", "Processor declined"),
    # Adyen: https://docs.adyen.com/development-resources/testing/test-card-numbers
    _c("5100290029002909", M, OK, "adyen", "Mastercard, succeeds"),
    _c("4988438843884305", V, OK, "adyen", "Visa, succeeds"),
    _c("370000000000002", A, OK, "adyen", "American Express, succeeds"),
)

_BY_NUMBER = {card.number: card for card in TEST_CARDS}


def lookup(digits: str) -> TestCard | None:
    """The registry entry for a number (digits only), or None if it is not a test card."""
    return _BY_NUMBER.get(digits)


def is_test_card(digits: str) -> bool:
    return digits in _BY_NUMBER
