"""KEK providers, chosen by a URL::

    open_kms("local:/var/lib/cardshield/kek.key")           key file (embedded default)
    open_kms("pkcs11:cardshield?pin_env=CARDSHIELD_HSM_PIN") HSM through PKCS#11
    open_kms("aws:alias/cardshield?region=eu-west-1")        AWS KMS
    open_kms("memory:")                                      in-process, for tests

``open_kms(url, *, now=None) -> KMSProvider`` opens existing keys; ``init_kms(url, *, now=None)
-> KMSProvider`` creates version 1 and the signing key first (``cardshield keys init``) and
refuses if they exist. ``now`` is a clock returning an aware :class:`~datetime.datetime`, used
where a provider records when a version was made (the local key file); it defaults to UTC now.
Each provider module offers ``open_url(rest, *, now)`` and ``init_url(rest, *, now)`` where
``rest`` is the URL after the scheme and colon; adding one is one module and one line below.
Provider modules are imported on first use, so python-pkcs11 and boto3 load only when needed.
Errors: :class:`~cardshield.crypto.errors.KMSError` (subclass ``KeyFileError`` for ``local``).
The URL itself is never echoed in an error, since it may carry a PIN (``pin=`` in tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import UTC, datetime

from cardshield.crypto.errors import KMSError
from cardshield.crypto.kms.base import KMSProvider, WrappedKey
from cardshield.crypto.kms.local import init_local_key

__all__ = ["KMSProvider", "WrappedKey", "init_kms", "init_local_key", "open_kms"]

Clock = Callable[[], datetime]
_Opener = Callable[..., KMSProvider]

_PROVIDERS: dict[str, str] = {
    "memory": "cardshield.crypto.kms.memory",
    "local": "cardshield.crypto.kms.local",
    "pkcs11": "cardshield.crypto.kms.pkcs11",
    "aws": "cardshield.crypto.kms.aws",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _resolve(url: str, entry: str) -> tuple[_Opener, str]:
    scheme, sep, rest = url.partition(":")
    module_name = _PROVIDERS.get(scheme.lower()) if sep else None
    if module_name is None:
        known = ", ".join(f"{s}:" for s in _PROVIDERS)
        raise KMSError(f"unknown KMS URL scheme {scheme[:20]!r}: use one of {known}")
    opener: _Opener = getattr(importlib.import_module(module_name), entry)
    return opener, rest


def open_kms(url: str, *, now: Clock | None = None) -> KMSProvider:
    """Open the provider ``url`` names; raises KMSError if it is unusable."""
    opener, rest = _resolve(url, "open_url")
    return opener(rest, now=now or _utcnow)


def init_kms(url: str, *, now: Clock | None = None) -> KMSProvider:
    """Create the first KEK version and the signing key at ``url``, then open it."""
    opener, rest = _resolve(url, "init_url")
    return opener(rest, now=now or _utcnow)
