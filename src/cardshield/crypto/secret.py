"""The :class:`Secret` value type for key material, passwords and API secrets.

Like :class:`~cardshield.cards.PAN`, a ``Secret`` shows only a mask (``Secret('***')``) in
``repr``, ``str`` and f-strings, compares in constant time, and refuses to be pickled, so an
accidental log line, traceback local or queue message cannot carry the value. The plaintext
comes out of :meth:`Secret.reveal` alone, which keeps every use easy to find.
"""

from __future__ import annotations

import hmac
from typing import Generic, NoReturn, TypeVar

T = TypeVar("T", bytes, str)


class Secret(Generic[T]):
    """Holds a ``bytes`` or ``str`` value that is shown only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        if not isinstance(value, bytes | str):
            raise TypeError("Secret holds bytes or str")
        self._value: T = value

    def reveal(self) -> T:
        """The plaintext value. Keep what you do with it short and local."""
        return self._value

    def _as_bytes(self) -> bytes:
        value = self._value
        return value.encode("utf-8") if isinstance(value, str) else value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "Secret('***')"

    def __format__(self, spec: str) -> str:
        return format("Secret('***')", spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        # str and bytes secrets never compare equal, as str and bytes do not.
        if isinstance(self._value, str) is not isinstance(other._value, str):
            return False
        return hmac.compare_digest(self._as_bytes(), other._as_bytes())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret objects cannot be pickled")

    def __copy__(self) -> Secret[T]:
        return self

    def __deepcopy__(self, memo: object) -> Secret[T]:
        return self
