"""Envelope encryption of card data under a per-merchant data key (AES-256-GCM).

The recipe, and the only one cardshield uses to store a PAN::

    key = generate_data_key()                        # wrapped by the KEK for storage
    blob = encrypt(key, pan_bytes, key_id="m_123", key_version=1, aad=b"m_123|tok_...")
    parse_header(blob)                               # Header(key_id="m_123", key_version=1)
    decrypt(key, blob, aad=b"m_123|tok_...")         # -> pan_bytes

Blob layout (all integers big-endian)::

    offset  size  field
    0       4     magic b"CSE1"   (format version 1)
    4       1     n = length of key_id in UTF-8 bytes (1..255)
    5       n     key_id
    5+n     4     key_version (uint32)
    9+n     12    nonce (random for every message)
    21+n    ...   AES-256-GCM ciphertext followed by its 16-byte tag

The GCM associated data is ``header || aad`` where ``header`` is bytes ``0 .. 9+n`` (magic, key
id, version). The header is length-prefixed, so the concatenation is unambiguous; editing the
key id or version therefore breaks the tag just like editing the ciphertext does. The caller's
``aad`` binds a ciphertext to its row (e.g. ``b"merchant|token"``): copied onto another token or
merchant, it no longer decrypts.

:func:`parse_header` reads the header *without* authenticating it, only so the caller can
pick the data key; :func:`decrypt` then authenticates everything. Every failure in
:func:`parse_header` or :func:`decrypt` raises the same message-less
:class:`~cardshield.crypto.errors.DecryptionError`. Wrong arguments to :func:`encrypt` are
programming errors and raise :class:`ValueError`.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardshield.crypto.errors import DecryptionError
from cardshield.crypto.secret import Secret

MAGIC = b"CSE1"
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_KEY_ID_BYTES = 255
MAX_KEY_VERSION = 2**32 - 1

_VERSION = struct.Struct(">I")


class Header(NamedTuple):
    """The key a blob says it was encrypted under (unauthenticated until decrypt succeeds)."""

    key_id: str
    key_version: int


def generate_data_key() -> bytes:
    """A fresh 256-bit data key from the operating system's CSPRNG."""
    return os.urandom(DATA_KEY_BYTES)


def _key_bytes(data_key: bytes | Secret[bytes]) -> bytes:
    return data_key.reveal() if isinstance(data_key, Secret) else data_key


def _header(key_id: str, key_version: int) -> bytes:
    raw_id = key_id.encode("utf-8")
    if not 1 <= len(raw_id) <= MAX_KEY_ID_BYTES:
        raise ValueError("key_id must be 1 to 255 bytes of UTF-8")
    if not 0 <= key_version <= MAX_KEY_VERSION:
        raise ValueError("key_version must fit in an unsigned 32-bit integer")
    return MAGIC + bytes((len(raw_id),)) + raw_id + _VERSION.pack(key_version)


def encrypt(
    data_key: bytes | Secret[bytes],
    plaintext: bytes,
    *,
    key_id: str,
    key_version: int,
    aad: bytes,
) -> bytes:
    """Encrypt ``plaintext`` under ``data_key``, bound to ``aad``; returns a self-describing blob.

    ``key_id`` and ``key_version`` name the data key (e.g. merchant id and data-key version);
    they travel in the authenticated header so the reader can find the key again.
    """
    key = _key_bytes(data_key)
    if len(key) != DATA_KEY_BYTES:
        raise ValueError("data_key must be 32 bytes (AES-256)")
    header = _header(key_id, key_version)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def _split(blob: bytes) -> tuple[Header, bytes, bytes, bytes]:
    """(header, header bytes, nonce, ciphertext+tag); DecryptionError if malformed."""
    if len(blob) < len(MAGIC) + 1 or blob[: len(MAGIC)] != MAGIC:
        raise DecryptionError from None
    id_len = blob[len(MAGIC)]
    id_end = len(MAGIC) + 1 + id_len
    header_end = id_end + _VERSION.size
    if id_len == 0 or len(blob) < header_end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError from None
    try:
        key_id = blob[len(MAGIC) + 1 : id_end].decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError from None
    (version,) = _VERSION.unpack_from(blob, id_end)
    nonce_end = header_end + NONCE_BYTES
    return (
        Header(key_id, version),
        blob[:header_end],
        blob[header_end:nonce_end],
        blob[nonce_end:],
    )


def parse_header(blob: bytes) -> Header:
    """The (key_id, key_version) a blob names, to choose the data key. Not yet authenticated."""
    return _split(blob)[0]


def decrypt(data_key: bytes | Secret[bytes], blob: bytes, *, aad: bytes) -> bytes:
    """Authenticate and decrypt ``blob``; any failure raises a message-less DecryptionError."""
    key = _key_bytes(data_key)
    _, header, nonce, sealed = _split(blob)
    if len(key) != DATA_KEY_BYTES:
        raise DecryptionError from None
    try:
        return AESGCM(key).decrypt(nonce, sealed, header + aad)
    except InvalidTag:
        raise DecryptionError from None
