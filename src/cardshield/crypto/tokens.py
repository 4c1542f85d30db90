"""Token generation: random tokens (the default) and format-preserving tokens.

* :func:`random_token` -- ``prefix`` + 128 random bits written in base62 with a fixed width of
  22 characters (``62**22 > 2**128 > 62**21``), e.g. ``tok_4bD0c9...``. Uniqueness comes from
  the 128-bit space; nothing about the card can be derived from it.
* :func:`format_preserving_token` -- same length as the PAN, first 6 and last 4 digits kept,
  the digits between drawn at random, and the whole number Luhn-*invalid* by construction,
  so no scanner, gateway or person mistakes it for a card. Exactly one value of any single
  digit makes a number Luhn-valid (each digit's contribution to the Luhn sum is a permutation
  of 0..9), so the last random digit is drawn uniformly from the nine others. The space is
  small (10**6 middles for a 16-digit card), so the vault must retry on a collision.

All randomness comes from :mod:`secrets`.
"""

from __future__ import annotations

import secrets
import string

from cardshield.cards import PAN, brand_for, luhn_valid
from cardshield.cards.brands import MAX_LENGTH, MIN_LENGTH

BASE62_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
RANDOM_TOKEN_BITS = 128
RANDOM_TOKEN_WIDTH = 22
KEPT_HEAD = 6
KEPT_TAIL = 4

_BASE62_SET = frozenset(BASE62_ALPHABET)


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(BASE62_ALPHABET[digit])
    return "".join(reversed(chars))


def random_token(prefix: str = "tok_") -> str:
    """``prefix`` followed by 128 random bits as 22 base62 characters."""
    return prefix + _base62(secrets.randbits(RANDOM_TOKEN_BITS), RANDOM_TOKEN_WIDTH)


def is_random_token(s: str, prefix: str = "tok_") -> bool:
    """True when ``s`` has the shape :func:`random_token` produces for ``prefix``."""
    body = s[len(prefix) :]
    return (
        s.startswith(prefix)
        and len(body) == RANDOM_TOKEN_WIDTH
        and all(ch in _BASE62_SET for ch in body)
        and _int_from_base62(body) < 2**RANDOM_TOKEN_BITS
    )


def _int_from_base62(body: str) -> int:
    value = 0
    for ch in body:
        value = value * 62 + BASE62_ALPHABET.index(ch)
    return value


def format_preserving_token(pan: PAN) -> str:
    """A Luhn-invalid number with ``pan``'s length, first 6 and last 4, random in between."""
    digits = pan.reveal()
    head, tail = digits[:KEPT_HEAD], digits[-KEPT_TAIL:]
    middle_len = len(digits) - KEPT_HEAD - KEPT_TAIL
    body = "".join(secrets.choice(string.digits) for _ in range(middle_len - 1))
    # Of the ten candidates for the last random digit exactly one is Luhn-valid: skip it.
    invalid = [d for d in string.digits if not luhn_valid(head + body + d + tail)]
    return head + body + secrets.choice(invalid) + tail


def is_format_preserving_token(s: str) -> bool:
    """True when ``s`` looks like a format-preserving token: a card-shaped, Luhn-invalid number.

    It must be ASCII digits of a card length whose prefix and length fit a known brand, and
    fail the Luhn check (a real PAN never does).
    """
    return (
        s.isascii()
        and s.isdigit()
        and MIN_LENGTH <= len(s) <= MAX_LENGTH
        and len(s) >= KEPT_HEAD + KEPT_TAIL + 1
        and not luhn_valid(s)
        and brand_for(s) is not None
    )
