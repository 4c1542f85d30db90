"""Errors raised by :mod:`cardshield.phone.connect`.

::

    CardshieldError
    ├── ConnectSignatureInvalid   authentication_error   401  header missing, garbled, no match
    ├── ConnectSignatureExpired   authentication_error   401  signed too long ago (or ahead)
    ├── UnknownConnectInstance    permission_error       403  the ARN is not on the secret
    └── InvalidRequestError
        ├── ConnectCiphertextInvalid      400  any decryption failure (no oracle)
        ├── ConnectInputNotDigits         400  the decrypted input is not only digits
        ├── InvalidContactId              400  ContactId is not a UUID
        ├── InvalidConnectKeyId           400  the key id Connect gave is not a UUID
        ├── InvalidInstanceArn            400  not arn:aws:connect:...:instance/<id>
        ├── ConnectKeyNotFound            404  no such key (or secret) for this merchant
        ├── ConnectSecretNotFound         404
        ├── ConnectRequestReplayed        409  this signature was accepted before
        ├── TooManyConnectKeys            409  two keys are pending or active already
        ├── ConnectKeyIdInUse             409  another key of the merchant has that id
        └── ConnectKeyNotPending          409  activating a key that is active or retired

Messages are fixed: none repeats a ciphertext, a decrypted value or a secret, and the one
decryption error says nothing of why (wrong key, tampered bytes, bad base64, another key
provider all read the same).
"""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class ConnectSignatureInvalid(CardshieldError):
    """The request is not proven to come from the merchant's Lambda (never says why)."""

    type = "authentication_error"
    code = "connect_signature_invalid"
    http_status = 401
    default_message = "The Cardshield-Signature header is missing or does not match."

    def __init__(self) -> None:
        super().__init__()


class ConnectSignatureExpired(CardshieldError):
    type = "authentication_error"
    code = "connect_signature_expired"
    http_status = 401
    default_message = "The signature timestamp is outside the tolerance; sign the request again."


class UnknownConnectInstance(CardshieldError):
    type = "permission_error"
    code = "unknown_connect_instance"
    http_status = 403
    default_message = "This Amazon Connect instance is not allowed for the signing secret."


class ConnectCiphertextInvalid(InvalidRequestError):
    """Any failure to decrypt an encrypted customer input: always this, with this message."""

    code = "connect_ciphertext_invalid"
    default_message = "The encrypted value could not be decrypted."

    def __init__(self, *, param: str | None = None) -> None:
        super().__init__(param=param)


class ConnectInputNotDigits(InvalidRequestError):
    code = "connect_input_not_digits"
    default_message = "The caller's input holds characters other than digits."


class InvalidContactId(InvalidRequestError):
    code = "invalid_contact_id"
    default_message = "ContactId must be a UUID."


class InvalidConnectKeyId(InvalidRequestError):
    code = "invalid_connect_key_id"
    default_message = "The Amazon Connect key id must be the UUID Connect shows for the key."


class InvalidInstanceArn(InvalidRequestError):
    code = "invalid_instance_arn"
    default_message = (
        "An Amazon Connect instance ARN looks like "
        "arn:aws:connect:<region>:<account>:instance/<instance id>."
    )


class ConnectKeyNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such Amazon Connect key for this merchant."


class ConnectSecretNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such Amazon Connect signing secret for this merchant."


class ConnectRequestReplayed(InvalidRequestError):
    code = "connect_request_replayed"
    http_status = 409
    default_message = "This signed request was received before; sign each request anew."


class TooManyConnectKeys(InvalidRequestError):
    code = "connect_key_limit"
    http_status = 409
    default_message = (
        "The merchant has two Amazon Connect keys that are pending or active (Connect's "
        "limit); retire one first."
    )


class ConnectKeyIdInUse(InvalidRequestError):
    code = "connect_key_id_in_use"
    http_status = 409
    default_message = "Another key of this merchant already has this Amazon Connect key id."


class ConnectKeyNotPending(InvalidRequestError):
    code = "connect_key_not_pending"
    http_status = 409
    default_message = "Only a pending key can be activated (this one is active or retired)."
