"""Safe cryptographic recipes for the card data environment.

Public API (everything else in this package is private)::

    Secret[T]                                    masked holder for key material (secret.py)
    DecryptionError, KMSError, KeyFileError      errors (errors.py)
    generate_data_key() -> bytes                 32 random bytes (envelope.py)
    encrypt(data_key, plaintext, *, key_id, key_version, aad) -> bytes
    decrypt(data_key, blob, *, aad) -> bytes     AES-256-GCM, authenticated header
    parse_header(blob) -> Header(key_id, key_version)
    fingerprint(fp_key, pan) -> str              hex HMAC-SHA256 (fingerprint.py)
    generate_fingerprint_key() -> bytes
    random_token(prefix="tok_") -> str           tokens.py
    format_preserving_token(pan) -> str
    is_random_token(s, prefix="tok_") -> bool
    is_format_preserving_token(s) -> bool
    KeyCache(ttl, *, max_entries=1024, clock=time.monotonic)   keycache.py

KEK providers live in :mod:`cardshield.crypto.kms` (``open_kms(url)``).
"""

from __future__ import annotations

from cardshield.crypto.envelope import Header, decrypt, encrypt, generate_data_key, parse_header
from cardshield.crypto.errors import DecryptionError, KeyFileError, KMSError
from cardshield.crypto.fingerprint import fingerprint, generate_fingerprint_key
from cardshield.crypto.keycache import KeyCache
from cardshield.crypto.secret import Secret
from cardshield.crypto.tokens import (
    format_preserving_token,
    is_format_preserving_token,
    is_random_token,
    random_token,
)

__all__ = [
    "DecryptionError",
    "Header",
    "KMSError",
    "KeyCache",
    "KeyFileError",
    "Secret",
    "decrypt",
    "encrypt",
    "fingerprint",
    "format_preserving_token",
    "generate_data_key",
    "generate_fingerprint_key",
    "is_format_preserving_token",
    "is_random_token",
    "parse_header",
    "random_token",
]
