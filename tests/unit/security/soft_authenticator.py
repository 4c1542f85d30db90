"""A software security key for the tests: a real P-256 key pair that answers WebAuthn
ceremonies byte for byte as a CTAP2 authenticator does ("none" attestation, ES256).

The answers are checked by the real ``webauthn`` library inside cardshield; only the
authenticator is simulated, as a browser's virtual authenticator would be.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

_UP = 0x01  # user present
_AT = 0x40  # attested credential data follows


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftKey:
    """One credential on one authenticator; ``counter`` grows with every signature."""

    origin: str
    counter: int = 0
    counts: bool = True  # False: an authenticator that keeps no sign count (always 0)
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    aaguid: bytes = bytes(16)

    def _cose_public_key(self) -> bytes:
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin},
            separators=(",", ":"),
        ).encode()

    def _answer(self, client_data: bytes, response: dict[str, Any]) -> str:
        """A PublicKeyCredential as the browser serializes it (``toJSON()``)."""
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data), **response},
                "clientExtensionResults": {},
            }
        )

    def register(self, options: str | dict[str, Any], *, origin: str | None = None) -> str:
        """The ``navigator.credentials.create()`` answer to ``options``, as JSON."""
        opts = json.loads(options) if isinstance(options, str) else options
        rp_hash = hashlib.sha256(opts["rp"]["id"].encode()).digest()
        attested = (
            self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_public_key()
        )
        auth_data = rp_hash + bytes([_UP | _AT]) + struct.pack(">I", self.counter) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", opts["challenge"], origin)
        return self._answer(
            client_data, {"attestationObject": b64url(attestation), "transports": ["usb"]}
        )

    def sign(
        self,
        options: str | dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        counter: int | None = None,
    ) -> str:
        """The ``navigator.credentials.get()`` answer to ``options``, as JSON."""
        opts = json.loads(options) if isinstance(options, str) else options
        if self.counts:
            self.counter += 1
        count = self.counter if counter is None else counter
        rp_hash = hashlib.sha256((rp_id or opts["rpId"]).encode()).digest()
        auth_data = rp_hash + bytes([_UP]) + struct.pack(">I", count)
        client_data = self._client_data("webauthn.get", opts["challenge"], origin)
        signature = self.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return self._answer(
            client_data,
            {"authenticatorData": b64url(auth_data), "signature": b64url(signature)},
        )
