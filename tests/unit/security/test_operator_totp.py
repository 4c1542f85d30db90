"""TOTP codes (RFC 6238 vectors), the enrollment URI and QR code, recovery codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pyotp

from cardshield.crypto import Secret
from cardshield.security import totp

# RFC 6238 appendix B: the SHA-1 seed "12345678901234567890", 8-digit codes; the last six
# digits are what a 6-digit authenticator shows.
RFC_SEED = Secret(b"12345678901234567890")
RFC_VECTORS = {59: "94287082", 1111111109: "07081804", 1234567890: "89005924"}


def test_codes_match_rfc_6238() -> None:
    for unix, code in RFC_VECTORS.items():
        at = datetime.fromtimestamp(unix, UTC)
        assert totp.code_at(RFC_SEED, totp.step_at(at)) == code[-6:]


def test_match_step_window_and_replay() -> None:
    now = datetime(2026, 11, 28, 12, 0, 10, tzinfo=UTC)
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SEED, step + offset)
        assert totp.match_step(RFC_SEED, code, now=now, last_step=None) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.code_at(RFC_SEED, step + offset)
        assert totp.match_step(RFC_SEED, code, now=now, last_step=None) is None
    current = totp.code_at(RFC_SEED, step)
    assert totp.match_step(RFC_SEED, current, now=now, last_step=step) is None
    assert totp.match_step(RFC_SEED, " " + current[:3] + " " + current[3:], now=now, last_step=None)
    assert totp.match_step(RFC_SEED, "12345", now=now, last_step=None) is None


def _digits_in(code: str, zero: str) -> str:
    """``code`` written with another script's digits (``zero``: that script's 0)."""
    return "".join(chr(ord(zero) + int(d)) for d in code)


def test_only_ascii_digits_are_codes() -> None:
    """A code in fullwidth, Arabic-Indic or Devanagari digits is no code (and never reaches
    the constant-time compare, which refuses non-ASCII text)."""
    now = datetime(2026, 11, 28, 12, 0, 10, tzinfo=UTC)
    current = totp.code_at(RFC_SEED, totp.step_at(now))
    for zero in ("\uff10", "\u0660", "\u06f0", "\u0966"):
        assert totp.match_step(RFC_SEED, _digits_in(current, zero), now=now, last_step=None) is None
    assert totp.match_step(RFC_SEED, current[:5] + "\u00b9", now=now, last_step=None) is None
    assert totp.match_step(RFC_SEED, current, now=now, last_step=None) is not None


def test_provisioning_uri_and_qr() -> None:
    seed = totp.new_seed()
    assert len(seed.reveal()) == 20 and "***" in repr(seed)
    uri = totp.provisioning_uri(seed, "alice")
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert query["secret"] == [totp.seed_base32(seed)] and query["issuer"] == ["cardshield"]
    # What an authenticator app computes from the URI is what cardshield accepts.
    now = datetime.now(UTC)
    app_code = pyotp.parse_uri(uri).at(now)
    assert totp.match_step(seed, app_code, now=now, last_step=None) is not None
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg") and "<?xml" not in svg and 'class="qr"' in svg
    assert totp.seed_base32(seed) not in svg  # the key is in the modules, not in text


def test_recovery_codes() -> None:
    codes = [c.reveal() for c in totp.new_recovery_codes()]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    first = codes[0]
    same = totp.hash_recovery_code("op_1", first.upper().replace("-", " "))
    assert same == totp.hash_recovery_code("op_1", first)
    assert totp.hash_recovery_code("op_2", first) != same  # bound to the operator
    assert totp.looks_like_recovery_code(first) and not totp.looks_like_recovery_code("123456")
