"""Amounts in minor units, with the ISO 4217 exponent of each currency.

The table lists the currencies cardshield accepts; an unknown code is an error rather than
a guess, since a wrong exponent charges 100 times too much or too little.
"""

from __future__ import annotations

from cardshield.errors import InvalidRequestError

# ISO 4217 minor-unit exponents (most currencies use 2).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP "
    "LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP "
    "STN SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL"
)
EXPONENTS: dict[str, int] = (
    {c: 0 for c in _ZERO.split()} | {c: 2 for c in _TWO.split()} | {c: 3 for c in _THREE.split()}
)

# Above this an amount is surely a mistake (about 10 million in a 2-decimal currency).
MAX_AMOUNT = 99_999_999_999


class InvalidCurrency(InvalidRequestError):
    code = "invalid_currency"
    default_message = "Unknown or unsupported currency."


class InvalidAmount(InvalidRequestError):
    code = "invalid_amount"
    default_message = "The amount must be a positive whole number of minor units."


def normalize_currency(code: str) -> str:
    upper = code.strip().upper()
    if upper not in EXPONENTS:
        raise InvalidCurrency(param="currency")
    return upper


def exponent(currency: str) -> int:
    return EXPONENTS[normalize_currency(currency)]


def check_amount(amount: int, *, allow_zero: bool = False) -> int:
    """A positive integer amount in minor units (zero only for a verification)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(param="amount")
    if amount < 0 or (amount == 0 and not allow_zero) or amount > MAX_AMOUNT:
        raise InvalidAmount(param="amount")
    return amount


def format_amount(amount: int, currency: str) -> str:
    """``1050, "EUR"`` -> ``"10.50 EUR"`` (for people: receipts, the console)."""
    exp = exponent(currency)
    if exp == 0:
        return f"{amount} {currency}"
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d} {currency}"
