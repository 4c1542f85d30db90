"""One contract, every KEK provider: memory, local (key file), pkcs11 (a real SoftHSM2
token) and aws (moto's KMS server on loopback). See cardshield.crypto.kms.base."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cardshield.crypto import DecryptionError, generate_data_key
from cardshield.crypto.kms import KMSProvider, WrappedKey, init_kms, open_kms

pytestmark = pytest.mark.integration

PROVIDERS = ["memory", "local", "pkcs11", "aws"]


def _new_store_url(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a store of its own (fresh keys) for provider ``name``."""
    unique = uuid.uuid4().hex[:12]
    if name == "memory":
        return f"memory:contract-{unique}"
    if name == "local":
        return f"local:{tmp_path / unique / 'kek.key'}"
    if name == "pkcs11":
        return request.getfixturevalue("softhsm").url(prefix=f"c{unique}")
    if name == "aws":
        return request.getfixturevalue("moto_kms").url(f"alias/contract/{unique}")
    raise AssertionError(name)


@dataclass(frozen=True)
class Store:
    name: str
    url: str  # a freshly initialised store
    other_url: str  # a second one, with keys of its own


@pytest.fixture(params=PROVIDERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    urls = [_new_store_url(request.param, request, tmp_path) for _ in range(2)]
    for url in urls:
        init_kms(url).close()
    return Store(request.param, *urls)


@pytest.fixture
def kms(store: Store) -> Iterator[KMSProvider]:
    provider = open_kms(store.url)
    yield provider
    provider.close()


def _assert_opaque(err: DecryptionError) -> None:
    assert type(err) is DecryptionError
    assert str(err) == ""
    assert err.__cause__ is None


def test_a_new_store_has_version_one(kms: KMSProvider, store: Store) -> None:
    assert kms.name == store.name
    assert isinstance(kms, KMSProvider)
    kms.check()
    assert kms.current_version() == 1
    assert kms.versions() == [1]


def test_wrap_round_trip_is_randomized_and_hides_the_key(kms: KMSProvider) -> None:
    key = generate_data_key()
    a = kms.wrap(key, context=b"merchant:m_1")
    b = kms.wrap(key, context=b"merchant:m_1")
    assert a.kek_version == b.kek_version == 1
    assert a.blob != b.blob
    assert key not in a.to_bytes()
    assert key.hex().encode() not in a.to_bytes()
    for w in (a, b):
        assert kms.unwrap(w, context=b"merchant:m_1") == key
        assert kms.unwrap(WrappedKey.from_bytes(w.to_bytes()), context=b"merchant:m_1") == key


def test_unwrap_needs_the_same_context(kms: KMSProvider) -> None:
    wrapped = kms.wrap(generate_data_key(), context=b"merchant:m_1")
    for other in (b"merchant:m_2", b"", b"merchant:m_1\x00", b"merchant:m_"):
        with pytest.raises(DecryptionError) as info:
            kms.unwrap(wrapped, context=other)
        _assert_opaque(info.value)


def test_tampering_with_any_byte_of_the_stored_form_fails(kms: KMSProvider) -> None:
    stored = kms.wrap(generate_data_key(), context=b"c").to_bytes()
    for i in range(len(stored)):
        tampered = bytearray(stored)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptionError) as info:
            kms.unwrap(WrappedKey.from_bytes(bytes(tampered)), context=b"c")
        _assert_opaque(info.value)
    with pytest.raises(DecryptionError):
        kms.unwrap(WrappedKey.from_bytes(stored[:-1]), context=b"c")


def test_unknown_version_and_foreign_store_fail(kms: KMSProvider, store: Store) -> None:
    key = generate_data_key()
    wrapped = kms.wrap(key, context=b"c")
    with pytest.raises(DecryptionError):
        kms.unwrap(WrappedKey(99, wrapped.blob), context=b"c")
    foreign = open_kms(store.other_url)
    try:
        assert foreign.current_version() == 1
        with pytest.raises(DecryptionError):
            foreign.unwrap(wrapped, context=b"c")
    finally:
        foreign.close()


def test_rotation_keeps_old_versions_unwrapping(kms: KMSProvider, store: Store) -> None:
    key = generate_data_key()
    w1 = kms.wrap(key, context=b"c")
    assert kms.rotate() == 2
    assert kms.current_version() == 2
    w2 = kms.wrap(key, context=b"c")
    assert w2.kek_version == 2
    assert kms.rotate() == 3
    assert kms.versions() == [1, 2, 3]
    reopened = open_kms(store.url)
    try:
        assert reopened.versions() == [1, 2, 3]
        for w in (w1, w2):
            assert reopened.unwrap(w, context=b"c") == key
        # A blob relabelled as another existing version does not unwrap.
        with pytest.raises(DecryptionError):
            reopened.unwrap(WrappedKey(2, w1.blob), context=b"c")
    finally:
        reopened.close()


def test_retire_stops_a_version_and_never_the_current_one(kms: KMSProvider) -> None:
    key = generate_data_key()
    w1 = kms.wrap(key, context=b"c")
    kms.rotate()
    w2 = kms.wrap(key, context=b"c")
    with pytest.raises(ValueError, match="current"):
        kms.retire(2)
    kms.retire(1)
    assert kms.versions() == [2]
    with pytest.raises(DecryptionError):
        kms.unwrap(w1, context=b"c")
    assert kms.unwrap(w2, context=b"c") == key


def test_sign_and_verify(kms: KMSProvider, store: Store) -> None:
    data = b"checkpoint|seq=1000|hash=" + bytes(32)
    sig = kms.sign(data)
    assert len(sig) >= 32
    assert kms.verify(data, sig)
    assert not kms.verify(data + b"x", sig)
    assert not kms.verify(data, bytes([sig[0] ^ 1]) + sig[1:])
    assert not kms.verify(data, b"")
    kms.rotate()  # the signing key does not rotate with the KEK
    reopened = open_kms(store.url)
    try:
        assert reopened.verify(data, sig)
        # Deterministic (an HMAC): the audit entry key is derived from it on every node.
        assert reopened.sign(data) == sig
    finally:
        reopened.close()


def test_concurrent_wrap_and_unwrap(kms: KMSProvider) -> None:
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(15):
            key = generate_data_key()
            ctx = f"m_{n}_{i}".encode()
            if kms.unwrap(kms.wrap(key, context=ctx), context=ctx) != key:
                failures.append(f"{n}/{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_repr_is_short_and_names_the_provider(kms: KMSProvider) -> None:
    text = repr(kms)
    assert len(text) < 200
    assert "\n" not in text
