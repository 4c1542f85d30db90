"""Amazon Connect: callers key their card into a contact flow that encrypts it (Store
customer input, encryption on) to a key pair cardshield made; the merchant's Lambda forwards
the ciphertexts in a signed request; cardshield opens them and answers with a vault token.

Modules, one concern each::

    certificates     RSA-4096 pair and the self-signed certificate Connect is given
    keys             the pairs per merchant: create, activate, list, retire (two live at most)
    sealed           the private key / signing secret under the merchant's data key (KEK)
    decrypt          the AWS Encryption SDK side: one message-less error for any failure
    signing_secrets  the Lambda's signing secrets and the instance ARNs each may speak for
    signature        ``Cardshield-Signature: t=...,v1=...`` over the raw body
    replay           signatures already accepted, refused a second time
    identifiers      contact ids, key ids and instance ARNs, checked strictly
    service          the request, end to end: checks, decrypt, tokenize, charge
"""

from __future__ import annotations

from cardshield.phone.connect.keys import ConnectKey, ConnectKeys
from cardshield.phone.connect.service import (
    Charge,
    ConnectTokens,
    EncryptedCard,
    TokenRequest,
    TokenResult,
)

__all__ = [
    "Charge",
    "ConnectKey",
    "ConnectKeys",
    "ConnectTokens",
    "EncryptedCard",
    "TokenRequest",
    "TokenResult",
]
