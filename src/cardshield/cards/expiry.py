"""Card expiry dates: parsing the forms people type, and the expired check.

A card is valid through the last moment of its expiry month. The current time is always
passed in, so callers and tests decide what "now" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cardshield.errors import ExpiredCard, InvalidExpiry

# "12/34", "12/2034", "12 / 34", "12-34", "1234" (MMYY as keyed on a phone).
_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*[/\-]?\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True, slots=True, order=True)
class Expiry:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2099:
            raise InvalidExpiry

    @classmethod
    def parse(cls, text: str) -> Expiry:
        """Parse ``MM/YY``, ``MM/YYYY``, ``MM / YY``, ``MM-YY`` or ``MMYY``."""
        m = _EXPIRY.match(text)
        if m is None:
            raise InvalidExpiry
        month, year = m.groups()
        if len(month) == 1 and len(year) == 2 and "/" not in text and "-" not in text:
            raise InvalidExpiry  # "123" is ambiguous
        return cls.from_parts(month, year)

    @classmethod
    def from_parts(cls, month: int | str, year: int | str) -> Expiry:
        """From a separate month and a two- or four-digit year."""
        try:
            m, y = int(month), int(year)
        except (TypeError, ValueError) as exc:
            raise InvalidExpiry from exc
        if (isinstance(year, str) and len(year.strip()) == 2) or (
            isinstance(year, int) and y < 100
        ):
            y += 2000
        return cls(year=y, month=m)

    def is_expired(self, now: datetime) -> bool:
        """True once ``now`` is past the end of the expiry month."""
        return (now.year, now.month) > (self.year, self.month)

    def check(self, now: datetime) -> Expiry:
        """Return self, or raise :class:`ExpiredCard`."""
        if self.is_expired(now):
            raise ExpiredCard
        return self

    def __str__(self) -> str:
        return f"{self.month:02d}/{self.year % 100:02d}"
