"""The key pair Amazon Connect encrypts to: RSA-4096 and a self-signed X.509 certificate.

Connect takes the public key first (the console shows an id for it), then, in the flow's
Store customer input block, a certificate that key's signature verifies: self-signed with
the same pair, which proves the uploader holds the private key. No I/O here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cardshield.crypto.secret import Secret

KEY_BITS = 4096  # what Connect's encryption uses (512-byte wrapped data keys)
DEFAULT_VALIDITY = timedelta(days=730)


@dataclass(frozen=True, slots=True)
class KeyPair:
    private_pem: Secret[bytes]  # PKCS#8, unencrypted: sealed before it is stored
    certificate_pem: str

    @property
    def public_pem(self) -> str:
        return public_key_pem(self.certificate_pem)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate_pem)


def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def public_key_pem(certificate_pem: str) -> str:
    """The ``BEGIN PUBLIC KEY`` PEM Connect's console asks for, from the certificate."""
    public = _certificate(certificate_pem).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(certificate_pem: str) -> str:
    """SHA-256 over the public key (SubjectPublicKeyInfo DER), hex: to tell keys apart."""
    public = _certificate(certificate_pem).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def generate(*, common_name: str, now: datetime, validity: timedelta = DEFAULT_VALIDITY) -> KeyPair:
    """A fresh key pair and its self-signed certificate, valid from ``now``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cardshield"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A minute's grace for a clock on Connect's side that runs slightly behind.
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(
        private_pem=Secret(private_pem),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
