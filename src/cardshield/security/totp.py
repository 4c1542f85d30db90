"""Second factors: TOTP (RFC 6238) codes, one-time recovery codes, and the enrollment QR code.

* A TOTP seed is 160 random bits (RFC 4226's recommended length), SHA-1, 6 digits, 30 s steps,
  which is what every authenticator app reads from an ``otpauth://`` URI. A code is accepted
  for the current step and one step either side (clock drift), and only for a step later
  than the last one accepted, so a code that was seen cannot be replayed.
* Recovery codes are 80 random bits each, shown once as ``xxxx-xxxx-xxxx-xxxx`` (base32, no
  padding) and stored as SHA-256. A fast hash is the right tool here for the same reason as
  for API keys: 80 random bits cannot be searched from a leaked hash, and the hash is what
  the code is looked up by.
* The QR code is drawn here (``segno``) as inline SVG: the seed never leaves the server for
  a QR-code service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from cardshield.crypto import Secret

ISSUER = "cardshield"
STEP_SECONDS = 30
DIGITS = 6
SEED_BYTES = 20
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_BYTES = 10  # 80 bits


def new_seed() -> Secret[bytes]:
    return Secret(secrets.token_bytes(SEED_BYTES))


def seed_base32(seed: Secret[bytes]) -> str:
    """The seed as the base32 text authenticator apps accept for manual entry."""
    return base64.b32encode(seed.reveal()).decode("ascii").rstrip("=")


def provisioning_uri(seed: Secret[bytes], username: str) -> str:
    return pyotp.TOTP(seed_base32(seed), digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """An inline ``<svg>`` element of the QR code for ``uri`` (no XML declaration)."""
    qr = segno.make(uri, error="m", micro=False)
    svg: str = qr.svg_inline(scale=4, dark="#111", light="#fff", svgclass="qr", lineclass=None)
    return svg


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(seed: Secret[bytes], step: int) -> str:
    """The code for time step ``step`` (tests and the enrollment page use it)."""
    return pyotp.TOTP(seed_base32(seed), digits=DIGITS, interval=STEP_SECONDS).at(
        step * STEP_SECONDS
    )


def match_step(
    seed: Secret[bytes], code: str, *, now: datetime, last_step: int | None
) -> int | None:
    """The time step ``code`` is valid for (newer than ``last_step``), or None."""
    cleaned = code.replace(" ", "").strip()
    # ASCII digits only: str.isdigit() also accepts other scripts' digits (fullwidth,
    # Arabic-Indic, superscripts), which no authenticator shows and compare_digest refuses.
    if len(cleaned) != DIGITS or not (cleaned.isascii() and cleaned.isdigit()):
        return None
    current = step_at(now)
    found = None
    # Compare against every candidate step, so the time taken does not depend on which one
    # (if any) matches.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(seed, step), cleaned) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[Secret[str]]:
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(RECOVERY_BYTES)).decode("ascii").lower()
        codes.append(Secret("-".join(raw[i : i + 4] for i in range(0, 16, 4))))
    return codes


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_recovery_code(operator_id: str, code: str) -> str:
    """Stored form: SHA-256 over the operator id and the normalized code."""
    material = f"cardshield.recovery.v1:{operator_id}:{normalize_recovery_code(code)}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalize_recovery_code(code)) == 16
