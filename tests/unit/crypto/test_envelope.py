"""Envelope encryption: round trips, the pinned format, and one identical error for every
kind of failure (tampering, wrong key, wrong associated data, malformed blobs)."""

from __future__ import annotations

import pytest

from cardshield.crypto import DecryptionError, Secret, decrypt, encrypt, generate_data_key
from cardshield.crypto.envelope import MAGIC, NONCE_BYTES, Header, parse_header
from tests.conftest import CANARY_PAN, load_vectors

AAD = b"m_123|tok_abc"


def _seal(key: bytes, plaintext: bytes = b"4242424242424242", aad: bytes = AAD) -> bytes:
    return encrypt(key, plaintext, key_id="m_123", key_version=3, aad=aad)


def _failure(key: bytes, blob: bytes, aad: bytes = AAD) -> DecryptionError:
    with pytest.raises(DecryptionError) as info:
        decrypt(key, blob, aad=aad)
    return info.value


def _assert_opaque(err: DecryptionError) -> None:
    # No message, no parameters, no chained cause: nothing tells one failure from another.
    assert type(err) is DecryptionError
    assert str(err) == ""
    assert err.args == ("",)
    assert err.message == ""
    assert err.param is None
    assert err.__cause__ is None
    assert err.__suppress_context__ is True


@pytest.mark.parametrize("size", [0, 1, 15, 16, 19, 4096])
def test_round_trip(size: int) -> None:
    key = generate_data_key()
    plaintext = bytes(range(256)) * 16
    blob = encrypt(key, plaintext[:size], key_id="m_123", key_version=9, aad=AAD)
    assert decrypt(key, blob, aad=AAD) == plaintext[:size]
    assert parse_header(blob) == Header("m_123", 9)
    assert parse_header(blob) == ("m_123", 9)


def test_data_keys_are_random_and_aes256() -> None:
    keys = {generate_data_key() for _ in range(64)}
    assert len(keys) == 64
    assert all(len(k) == 32 for k in keys)


def test_a_secret_key_works_like_bytes() -> None:
    key = generate_data_key()
    blob = encrypt(Secret(key), b"x", key_id="k", key_version=0, aad=b"")
    assert decrypt(key, blob, aad=b"") == b"x"
    assert decrypt(Secret(key), blob, aad=b"") == b"x"


def test_nonce_is_fresh_for_every_message() -> None:
    key = generate_data_key()
    blobs = {_seal(key) for _ in range(200)}
    assert len(blobs) == 200
    header_len = len(MAGIC) + 1 + len("m_123") + 4
    nonces = {b[header_len : header_len + NONCE_BYTES] for b in blobs}
    assert len(nonces) == 200


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    blob = _seal(generate_data_key(), CANARY_PAN.encode())
    assert CANARY_PAN.encode() not in blob
    assert CANARY_PAN.encode().hex().encode() not in blob.hex().encode()


def test_pinned_vector_decrypts() -> None:
    for v in load_vectors("crypto_envelope.json")["vectors"]:
        blob = bytes.fromhex(v["blob_hex"])
        key = bytes.fromhex(v["key_hex"])
        aad = bytes.fromhex(v["aad_hex"])
        assert parse_header(blob) == (v["key_id"], v["key_version"])
        assert decrypt(key, blob, aad=aad) == bytes.fromhex(v["plaintext_hex"])
        _assert_opaque(_failure(key, blob, aad + b"x"))


def test_flipping_any_bit_of_any_byte_fails_identically() -> None:
    key = generate_data_key()
    blob = _seal(key)
    messages = set()
    for i in range(len(blob)):  # header, nonce, ciphertext and tag alike
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[i] ^= bit
            err = _failure(key, bytes(tampered))
            _assert_opaque(err)
            messages.add((str(err), repr(err), repr(err.to_dict())))
    assert len(messages) == 1


def test_truncation_and_extension_fail() -> None:
    key = generate_data_key()
    blob = _seal(key)
    for n in range(len(blob)):
        _assert_opaque(_failure(key, blob[:n]))
    _assert_opaque(_failure(key, blob + b"\x00"))


def test_wrong_key_fails() -> None:
    blob = _seal(generate_data_key())
    _assert_opaque(_failure(generate_data_key(), blob))
    _assert_opaque(_failure(b"short", blob))


@pytest.mark.parametrize(
    "other_aad",
    [
        b"m_999|tok_abc",  # the row copied to another merchant
        b"m_123|tok_xyz",  # ... or to another token of the same merchant
        b"",
        AAD + b"\x00",
    ],
)
def test_ciphertext_moved_to_another_row_fails(other_aad: bytes) -> None:
    key = generate_data_key()
    _assert_opaque(_failure(key, _seal(key), other_aad))


def test_header_is_authenticated_even_when_well_formed() -> None:
    key = generate_data_key()
    blob = _seal(key)
    # Re-label the blob with another key id / version of a valid shape: the tag must break.
    for key_id, version in (("m_124", 3), ("m_123", 4), ("m_12", 3)):
        rid = key_id.encode()
        forged_header = MAGIC + bytes((len(rid),)) + rid + version.to_bytes(4, "big")
        old_len = len(MAGIC) + 1 + len(b"m_123") + 4
        forged = forged_header + blob[old_len:]
        assert parse_header(forged) == (key_id, version)
        _assert_opaque(_failure(key, forged))


@pytest.mark.parametrize(
    "blob",
    [b"", b"CSE", b"CSE1", b"XXXX" + b"\x01k" + bytes(40), b"CSE1\x00" + bytes(40)],
)
def test_parse_header_rejects_malformed_blobs(blob: bytes) -> None:
    with pytest.raises(DecryptionError) as info:
        parse_header(blob)
    _assert_opaque(info.value)


def test_parse_header_rejects_a_key_id_that_is_not_utf8() -> None:
    blob = MAGIC + b"\x01\xff" + bytes(4 + NONCE_BYTES + 16)
    with pytest.raises(DecryptionError):
        parse_header(blob)


def test_every_failure_kind_raises_the_same_error() -> None:
    key = generate_data_key()
    blob = _seal(key)
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    errors = [
        _failure(generate_data_key(), blob),
        _failure(key, blob, b"m_999|tok_abc"),
        _failure(key, bytes(flipped)),
        _failure(key, blob[:10]),
        _failure(key, b"garbage"),
    ]
    assert {(type(e), str(e), e.code, e.http_status) for e in errors} == {
        (DecryptionError, "", "decryption_failed", 500)
    }


@pytest.mark.parametrize(
    ("key", "key_id", "version"),
    [
        (bytes(16), "k", 1),
        (bytes(31), "k", 1),
        (bytes(32), "", 1),
        (bytes(32), "x" * 256, 1),
        (bytes(32), "k", -1),
        (bytes(32), "k", 2**32),
    ],
)
def test_encrypt_rejects_bad_arguments(key: bytes, key_id: str, version: int) -> None:
    with pytest.raises(ValueError, match=r"key_id|key_version|data_key"):
        encrypt(key, b"x", key_id=key_id, key_version=version, aad=b"")


def test_longest_key_id_and_largest_version_round_trip() -> None:
    key = generate_data_key()
    blob = encrypt(key, b"x", key_id="é" * 127, key_version=2**32 - 1, aad=b"a")
    assert parse_header(blob) == ("é" * 127, 2**32 - 1)
    assert decrypt(key, blob, aad=b"a") == b"x"
