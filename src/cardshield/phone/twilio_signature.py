"""``X-Twilio-Signature``: base64 HMAC-SHA1 (auth token) over the URL Twilio called plus the
POST parameters sorted by name. The expected value comes from the ``twilio`` package's
:class:`~twilio.request_validator.RequestValidator`; the comparison is constant time.

Twilio signs the URL as it dialled it; behind a proxy that is the public URL, so callers pass
the URL rebuilt from ``public_url`` when one is configured. Twilio also signs some URLs with
and some without the default port, so both spellings are tried.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]


def _variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None:
        return [url, urlunsplit(parts._replace(netloc=host))]
    if default is None:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))]


def signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``signature`` is Twilio's for ``url`` and ``params``; never raises."""
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    presented = signature.encode()
    ok = False
    for candidate in _variants(url):
        expected = validator.compute_signature(candidate, dict(params)).encode()
        # Every variant is compared (no early exit), so timing says nothing about which.
        ok = hmac.compare_digest(expected, presented) | ok
    return ok


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (tests, and the CLI's call simulator)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
