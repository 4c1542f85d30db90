"""Canary card data: numbers generated for one report run, and how to recognise them.

Each run draws fresh Luhn-valid numbers (a 2-series Mastercard and a Visa, random digits
after the BIN) and a fresh CVV, so a canary found anywhere can only have come from this
run's flows. The digits are held as :class:`~cardshield.cards.PAN` / ``CVV`` values, whose
``repr`` is masked; only the masked form ever reaches the report.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cardshield.cards import CVV, PAN, luhn_check_digit
from cardshield.discovery import Finding


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def mastercard_2series() -> PAN:
    """A 16-digit Mastercard in 222100-272099 (the 2-series BIN range), random after the BIN."""
    iin = 222100 + secrets.randbelow(272099 - 222100 + 1)
    partial = f"{iin}{_digits(9)}"
    return PAN(partial + luhn_check_digit(partial))


def visa() -> PAN:
    partial = "4" + _digits(14)
    return PAN(partial + luhn_check_digit(partial))


@dataclass(frozen=True)
class Canary:
    """One run's canaries: one card per channel and the security code sent with them."""

    hosted: PAN  # hosted fields: POST /v1/tokens with a publishable key
    api: PAN  # server API: payment and refund on a token of this card
    phone: PAN  # phone: keyed as DTMF, masked
    cvv: CVV
    twilio_pay: PAN  # Twilio <Pay>: posted by the Generic Pay Connector
    amazon_connect: PAN  # Amazon Connect: encrypted by a contact flow, sent by its Lambda

    @classmethod
    def generate(cls) -> Canary:
        return cls(
            hosted=mastercard_2series(),
            api=visa(),
            phone=mastercard_2series(),
            cvv=CVV(_digits(3)),
            twilio_pay=visa(),
            amazon_connect=mastercard_2series(),
        )

    def cards(self) -> dict[str, PAN]:
        return {
            "hosted_fields": self.hosted,
            "api": self.api,
            "phone": self.phone,
            "twilio_pay": self.twilio_pay,
            "amazon_connect": self.amazon_connect,
        }

    def masked(self) -> dict[str, str]:
        return {channel: pan.masked() for channel, pan in self.cards().items()}

    def matches(self, finding: Finding) -> str | None:
        """The channel whose canary this finding is, or None for another number."""
        for channel, pan in self.cards().items():
            if finding.masked == pan.masked():
                return channel
        return None

    def cvv_pattern(self) -> re.Pattern[bytes]:
        """The canary CVV next to a key that names it (``"cvc": "123"``, ``cvv=123``).

        A three-digit code alone is everywhere in any database; only a key beside it makes
        a hit meaningful, which is also how the log redaction recognises one.
        """
        code = re.escape(self.cvv.reveal().encode("ascii"))
        return re.compile(
            rb"(?i)(?:cvc|cvv2?|cvn|cid|csc|security_?code)[\"' ]{0,3}[:=][\"' ]{0,3}"
            + code
            + rb"(?!\d)"
        )


def digits_in(data: bytes, pans: Iterable[PAN]) -> bool:
    """Whether any of ``pans`` occurs verbatim in ``data`` (a cheap cross-check)."""
    return any(pan.reveal().encode("ascii") in data for pan in pans)
