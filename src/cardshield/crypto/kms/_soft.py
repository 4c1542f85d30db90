"""Software KEK operations shared by the ``memory`` and ``local`` providers.

Wrapping is AES-256-GCM under the KEK version with a fresh 96-bit nonce; the associated data
is a domain label, the KEK version and the caller's context, so a blob relabelled with another
version or moved to another context fails. Blob: ``nonce (12) | ciphertext | tag (16)``.
Signing is HMAC-SHA256 under a separate 256-bit key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardshield.crypto.errors import DecryptionError

KEK_BYTES = 32
SIGNING_KEY_BYTES = 32
_NONCE = 12
_LABEL = b"cardshield/kek-wrap/v1\x00"
_VERSION = struct.Struct(">I")


def new_key() -> bytes:
    return os.urandom(KEK_BYTES)


def _aad(version: int, context: bytes) -> bytes:
    return _LABEL + _VERSION.pack(version) + context


def wrap(kek: bytes, version: int, key: bytes, context: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, key, _aad(version, context))


def unwrap(kek: bytes, version: int, blob: bytes, context: bytes) -> bytes:
    if len(blob) < _NONCE + 16:
        raise DecryptionError from None
    try:
        return AESGCM(kek).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(version, context))
    except InvalidTag:
        raise DecryptionError from None


def sign(signing_key: bytes, data: bytes) -> bytes:
    return hmac.new(signing_key, data, hashlib.sha256).digest()


def verify(signing_key: bytes, data: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(sign(signing_key, data), signature)
