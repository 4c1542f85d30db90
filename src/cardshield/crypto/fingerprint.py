"""Card fingerprints: HMAC-SHA256 of the PAN digits under a per-merchant key.

The same card gives the same fingerprint within one merchant (for deduplication and "have we
seen this card" checks) and an unrelated one under another merchant's key, so fingerprints
cannot be joined across merchants, and without the key they cannot be brute-forced over the
small space of card numbers. The result is 64 lowercase hex characters.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cardshield.cards import PAN
from cardshield.crypto.secret import Secret

FINGERPRINT_KEY_BYTES = 32


def generate_fingerprint_key() -> bytes:
    """A fresh 256-bit fingerprint key (store it wrapped by the KEK, like a data key)."""
    return os.urandom(FINGERPRINT_KEY_BYTES)


def fingerprint(fp_key: bytes | Secret[bytes], pan: PAN) -> str:
    """Lowercase hex HMAC-SHA256 of the PAN's digits (no separators) under ``fp_key``."""
    key = fp_key.reveal() if isinstance(fp_key, Secret) else fp_key
    if len(key) < FINGERPRINT_KEY_BYTES:
        raise ValueError("fingerprint key must be at least 32 bytes")
    return hmac.new(key, pan.reveal().encode("ascii"), hashlib.sha256).hexdigest()
