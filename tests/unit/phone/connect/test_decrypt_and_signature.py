"""The two pure pieces on their own: opening Connect ciphertexts (real AWS Encryption SDK
messages) and checking the Lambda's signature, with time passed in."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import aws_encryption_sdk
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cardshield.crypto.secret import Secret
from cardshield.phone.connect import certificates
from cardshield.phone.connect.decrypt import Decryptor, KeyRing
from cardshield.phone.connect.errors import (
    ConnectCiphertextInvalid,
    ConnectSignatureExpired,
    ConnectSignatureInvalid,
)
from cardshield.phone.connect.signature import sign, verify
from tests.conftest import CANARY_PAN
from tests.unit.phone.connect.support import KID, OTHER_KID, connect_encrypt

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair() -> tuple[certificates.KeyPair, rsa.RSAPrivateKey]:
    made = certificates.generate(common_name="test", now=NOW)
    key = serialization.load_pem_private_key(made.private_pem.reveal(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return made, key


def _ring(key: rsa.RSAPrivateKey, asked: list[str]) -> KeyRing:
    def lookup(key_id: str) -> rsa.RSAPrivateKey | None:
        asked.append(key_id)
        return key if key_id == KID else None

    return KeyRing(lookup)


def test_opens_connect_messages_and_loads_the_named_key_once(
    pair: tuple[certificates.KeyPair, rsa.RSAPrivateKey],
) -> None:
    made, key = pair
    asked: list[str] = []
    ring = _ring(key, asked)
    decryptor = Decryptor()
    for value in (CANARY_PAN, "1230", "737"):
        message = connect_encrypt(value, made.certificate_pem, KID)
        # Version 1, type 0x80, suite 0x0378 ("AYADe..."), as Connect writes it.
        assert base64.b64decode(message)[:4] == bytes.fromhex("01800378")
        assert decryptor.decrypt(message, ring, param="x") == value.encode()
    assert asked == [KID]  # one lookup for the request's three fields
    assert ring.used == [KID]
    with pytest.raises(ConnectCiphertextInvalid):
        decryptor.decrypt(connect_encrypt("1", made.certificate_pem, OTHER_KID), ring, param="x")
    assert asked == [KID, OTHER_KID]


def _message(public_pem: bytes, *, key_ids: list[str], algorithm: Algorithm) -> str:
    """A message encrypted to ``public_pem`` once per key id (one encrypted data key each)."""

    class Public(RawMasterKeyProvider):  # type: ignore[misc]
        provider_id = "AmazonConnect"

        def __init__(self, **kwargs: object) -> None:
            pass

        def _get_raw_key(self, key_id: bytes) -> WrappingKey:
            return WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA512_MGF1,
                wrapping_key=public_pem,
                wrapping_key_type=EncryptionKeyType.PUBLIC,
            )

    primary = Public()
    primary.add_master_keys_from_list([k.encode() for k in key_ids])
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )
    message, _ = client.encrypt(
        source=b"4242424242424242", key_provider=primary, algorithm=algorithm, frame_length=4096
    )
    return base64.b64encode(message).decode()


def test_refuses_what_connect_does_not_send(
    pair: tuple[certificates.KeyPair, rsa.RSAPrivateKey],
) -> None:
    made, key = pair
    public_pem = made.public_pem.encode()
    decryptor = Decryptor()
    unsigned = _message(
        public_pem, key_ids=[KID], algorithm=Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256
    )
    two_keys = _message(
        public_pem,
        key_ids=[KID, OTHER_KID],
        algorithm=Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    )
    header, _ = deserialize_header(io.BytesIO(base64.b64decode(two_keys)))
    assert len(header.encrypted_data_keys) == 2  # opened with the first, were it allowed
    for value in (unsigned, two_keys, "", "A" * 5000, "é" * 8):
        with pytest.raises(ConnectCiphertextInvalid) as caught:
            decryptor.decrypt(value, _ring(key, []), param="card_number")
        assert caught.value.param == "card_number"
        assert str(caught.value) == ConnectCiphertextInvalid.default_message


def test_signature_checks() -> None:
    body = b'{"merchant":"mer_1"}'
    t = int(NOW.timestamp())
    old, new = Secret("cnsec_old"), Secret("cnsec_new")
    assert (
        verify(
            sign("cnsec_new", body, timestamp=t), body, [old, new], now=NOW, tolerance_s=300
        ).index
        == 1
    )
    header = sign("cnsec_old", body, timestamp=t - 300)
    assert verify(header, body, [old], now=NOW, tolerance_s=300).timestamp == t - 300  # edge
    with pytest.raises(ConnectSignatureExpired):
        verify(sign("cnsec_old", body, timestamp=t - 301), body, [old], now=NOW, tolerance_s=300)
    # A bad signature is "invalid" even when also stale: the timestamp is looked at only
    # once a signature matched.
    with pytest.raises(ConnectSignatureInvalid):
        verify(f"t={t - 9999},v1=" + "0" * 64, body, [old], now=NOW, tolerance_s=300)
    # Any one of several v1 values may match (the Lambda mid-rotation).
    several = f"t={t},v1={'0' * 64},v1={sign('cnsec_old', body, timestamp=t).split('v1=')[1]}"
    assert verify(several, body, [old], now=NOW, tolerance_s=300).index == 0
    for bad in (
        None,
        "",
        "v1=ab",
        "t=1,t=2,v1=ab",
        "t=-5,v1=ab",
        "garbage",
        "t=1," + "v1=a," * 5,
        "x" * 2000,
    ):
        with pytest.raises(ConnectSignatureInvalid):
            verify(bad, body, [old], now=NOW, tolerance_s=300)
    with pytest.raises(ConnectSignatureInvalid):
        verify(sign("cnsec_old", body, timestamp=t), body, [], now=NOW, tolerance_s=300)
