"""What Amazon Connect writes to a contact when a Store customer input block encrypts the
caller's digits: an AWS Encryption SDK message (suite 0x0378, frames of 4096 bytes) whose
one data key is wrapped with RSA-OAEP SHA-512 under the certificate pasted into the flow,
named by provider ``AmazonConnect`` and the key id Connect showed for the uploaded key.

Made with the SDK itself, never by hand: the scope report's canary flow and the tests send
cardshield exactly what a contact flow would, so they exercise the real decrypting side.
"""

from __future__ import annotations

import base64

import aws_encryption_sdk  # type: ignore[import-untyped]
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import (  # type: ignore[import-untyped]
    Algorithm,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import (  # type: ignore[import-untyped]
    WrappingKey,
)
from aws_encryption_sdk.key_providers.raw import (  # type: ignore[import-untyped]
    RawMasterKey,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization

PROVIDER_ID = "AmazonConnect"
FRAME_LENGTH = 4096


def connect_encrypt(
    plaintext: str, certificate_pem: str, key_id: str, *, provider_id: str = PROVIDER_ID
) -> str:
    """The base64 ciphertext Connect stores for ``plaintext``."""
    public = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    master_key = RawMasterKey(
        provider_id=provider_id,
        key_id=key_id.encode(),
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA512_MGF1,
            wrapping_key=public_pem,
            wrapping_key_type=EncryptionKeyType.PUBLIC,
        ),
    )
    # Suite 0x0378 does not commit to its key; only a policy that forbids commitment on
    # encryption may produce it (Connect's messages are of that suite).
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )
    message, _ = client.encrypt(
        source=plaintext.encode(),
        key_provider=master_key,
        algorithm=Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
        frame_length=FRAME_LENGTH,
    )
    return base64.b64encode(message).decode()
