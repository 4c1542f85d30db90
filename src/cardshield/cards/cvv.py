"""The card security code (CVV2, CVC2, CID) value type.

Sensitive authentication data: never stored after authorization, not even encrypted
(PCI DSS 3.3.1). Like :class:`~cardshield.cards.pan.PAN` it shows only a mask and refuses
to be pickled; the plaintext comes out of :meth:`CVV.reveal` alone.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

from cardshield.cards.brands import Brand
from cardshield.errors import InvalidCVC


class CVV:
    """A security code checked against its brand's length (4 for Amex, 3 otherwise)."""

    __slots__ = ("_value",)

    def __init__(self, raw: str, brand: Brand | None = None) -> None:
        value = raw.strip()
        if not value.isascii() or not value.isdigit():
            raise InvalidCVC
        allowed = (3, 4) if brand is None else (brand.cvc_length,)
        if len(value) not in allowed:
            raise InvalidCVC
        self._value = value

    def reveal(self) -> str:
        """The plaintext code, for the single authorization it exists for."""
        return self._value

    def __repr__(self) -> str:
        return "CVV('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return format("***", spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CVV):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash((CVV, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("CVV objects cannot be pickled")
