"""The URL registry, the memory provider's sharing rules, and WrappedKey's stored form."""

from __future__ import annotations

import pytest

from cardshield.crypto import DecryptionError, KMSError
from cardshield.crypto.kms import KMSProvider, WrappedKey, init_kms, open_kms
from cardshield.crypto.kms.memory import MemoryKMS


@pytest.mark.parametrize(
    "url", ["", "nothing", "http://kms.example/x", "vault:pin=123456", "LOCALX:/tmp/k"]
)
def test_unknown_schemes_are_refused_without_echoing_the_url(url: str) -> None:
    with pytest.raises(KMSError) as info:
        open_kms(url)
    message = str(info.value)
    assert "use one of local:, pkcs11:, aws:, memory:" in message or "memory:" in message
    assert "123456" not in message
    assert "kms.example" not in message


def test_schemes_are_case_insensitive() -> None:
    assert isinstance(open_kms("MEMORY:"), MemoryKMS)


def test_memory_urls() -> None:
    a, b = open_kms("memory:"), open_kms("memory:")
    assert a is not b
    wrapped = a.wrap(b"k" * 32, context=b"c")
    with pytest.raises(DecryptionError):
        b.unwrap(wrapped, context=b"c")
    named = open_kms("memory:test-registry-shared")
    assert open_kms("memory:test-registry-shared") is named
    assert init_kms("memory:test-registry-shared") is named
    assert isinstance(named, KMSProvider)
    assert repr(named) == "MemoryKMS('test-registry-shared')"


def test_wrapped_key_storage_form() -> None:
    w = WrappedKey(7, b"\x01\x02\x03")
    raw = w.to_bytes()
    assert raw == b"CSW1\x00\x00\x00\x07\x01\x02\x03"
    assert WrappedKey.from_bytes(raw) == w
    assert repr(w) == "WrappedKey(kek_version=7, blob=<3 bytes>)"


@pytest.mark.parametrize("raw", [b"", b"CSW1", b"CSW1\x00\x00\x00\x01", b"XXXX\x00\x00\x00\x01z"])
def test_malformed_wrapped_keys_raise_decryption_error(raw: bytes) -> None:
    with pytest.raises(DecryptionError) as info:
        WrappedKey.from_bytes(raw)
    assert str(info.value) == ""


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 65])
def test_wrap_accepts_only_data_key_sizes(key: bytes) -> None:
    with pytest.raises(ValueError, match="16 to 64 bytes"):
        open_kms("memory:").wrap(key, context=b"c")
