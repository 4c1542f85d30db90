"""One scrubber for structured data: log events, audit details, webhook events, processor
documents.

:func:`scrub` returns a copy of a value (mappings, sequences, strings, bytes, exceptions,
anything printable) that can carry no card data:

* the value under a sensitive key (:data:`SENSITIVE_KEYS`) is replaced by ``***``. A key is
  compared after :func:`normalize_key`, so ``card_number``, ``cardNumber``,
  ``Card-Number`` and ``CARDNUMBER`` are one key, and a form-encoded ``card[cvc]`` is
  ``cvc``. Only ``None`` and booleans stay, as nothing can be hidden in them
  (``{"cvv": true}`` says that a code was given, not which);
* every other string, the keys too, passes :func:`cardshield.redaction.text.redact`, which
  masks PANs and track data wherever they appear and security codes named in the text;
* a 3-4 digit number under a key that the text redactor reads as naming a security code
  (``"the cvv": 123``, as in free text) is replaced too; other numbers stay numbers.

Processors echo references that can look like card numbers (an old all-digit Adyen
``pspReference`` can pass the brand and Luhn checks); ``verbatim`` names the keys whose
string values are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from cardshield.redaction.text import redact, redact_cvvs

REDACTED = "***"

# Normalised (see normalize_key): the union of what the gateway scrubbers, the webhook
# signer and the logging layer each used to deny, so nothing scrubbed before is kept now.
SENSITIVE_KEYS = frozenset(
    {
        # card numbers
        "pan",
        "number",
        "cardnumber",
        "encryptedcardnumber",
        # magnetic stripe data
        "track",
        # security codes, by every name a form, a processor or a person gives them
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "cvn",
        "cvn2",
        "csc",
        "cid",
        "cav2",
        "securitycode",
        "encryptedsecuritycode",
        "cardcode",
        "cardcvv",
        "cardcvv2",
        "cardcvc",
        "cardcvc2",
        "cardverification",
        "cardverificationvalue",
        "cardverificationcode",
        "verificationvalue",
        "verificationcode",
    }
)

_DROPPED = str.maketrans("", "", "_- .[]")


def normalize_key(key: str) -> str:
    """``Card-Number`` -> ``cardnumber``: lower case without ``_ - . [ ]``, spaces and
    URL-escaped brackets; for a bracketed form key only its last part (``card[cvc]`` ->
    ``cvc``), as that is the field the value belongs to."""
    low = key.lower().replace("%5b", "[").replace("%5d", "]")
    if "[" in low:
        last = low.rstrip("] ").rsplit("[", 1)[-1]
        if last.translate(_DROPPED):
            low = last
    return low.translate(_DROPPED)


def is_sensitive_key(key: object) -> bool:
    """True for a key whose value is card data whatever it looks like."""
    return isinstance(key, str) and _rule(key) is _SENSITIVE


def scrub(value: Any, *, verbatim: Collection[str] = frozenset()) -> Any:
    """A copy of ``value`` without card data (see the module docstring).

    Mappings become dicts and other collections lists, so the result is what ``json.dumps``
    takes whenever ``value`` was. ``verbatim`` keys are matched exactly, not normalised: a
    wider match would keep more text unredacted.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            _key(k): (
                v
                if k in verbatim and isinstance(v, str) and not is_sensitive_key(k)
                else scrub_field(k, v, verbatim=verbatim)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(v, verbatim=verbatim) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return redact(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    # Anything else is shown through str() by whoever receives it: redact that text.
    return redact(str(value))


def scrub_field(key: object, value: Any, *, verbatim: Collection[str] = frozenset()) -> Any:
    """``value`` as :func:`scrub` leaves it under ``key`` in a mapping (for callers that
    hold the fields of one event separately, such as a log record's extras)."""
    if value is None or isinstance(value, bool):
        return value
    rule = _rule(key) if isinstance(key, str) else _PLAIN
    if rule is _SENSITIVE or (rule is _NAMES_CODE and _short_number(value)):
        return REDACTED
    return scrub(value, verbatim=verbatim)


_PLAIN, _SENSITIVE, _NAMES_CODE = "plain", "sensitive", "names-code"


@lru_cache(maxsize=4096)  # log events repeat a few hundred distinct keys
def _rule(key: str) -> str:
    if normalize_key(key) in SENSITIVE_KEYS:
        return _SENSITIVE
    # A key that names a security code the way free text does ("the cvv", "payment.cvc"):
    # the text redactor masks "the cvv": 123, so a 3-4 digit number under it is a code too.
    pair = json.dumps({key: 123})
    return _NAMES_CODE if redact_cvvs(pair) != pair else _PLAIN


def _short_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value).strip()
    return text.isascii() and text.isdigit() and 3 <= len(text) <= 4


def _key(key: object) -> object:
    # Keys must stay hashable: a tuple key is shown as its text, redacted.
    if isinstance(key, str):
        return redact(key)
    if key is None or isinstance(key, bool | int | float):
        return key
    return scrub(key) if isinstance(key, bytes | bytearray) else redact(str(key))


__all__ = [
    "REDACTED",
    "SENSITIVE_KEYS",
    "is_sensitive_key",
    "normalize_key",
    "scrub",
    "scrub_field",
]
