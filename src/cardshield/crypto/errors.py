"""Errors raised by :mod:`cardshield.crypto` and its KMS providers.

::

    CardshieldError
    ├── DecryptionError      api_error     500  any decrypt/unwrap failure, always message-less
    └── KMSError             api_error     503  provider unreachable or misconfigured
        └── KeyFileError     config_error  500  local key file missing, unreadable, too open,
                                                 corrupt (also a ConfigError: refuse to start)

:class:`DecryptionError` takes no arguments and always has an empty message, and it is raised
``from None``: a wrong key, a wrong associated data, a tampered header, nonce, ciphertext or tag
and a malformed blob all look the same, so that no caller can learn which one happened (no
decryption oracle). :class:`KMSError` messages are one line that says what to do; they never
contain key material or a PIN.
"""

from __future__ import annotations

from cardshield.errors import CardshieldError, ConfigError


class DecryptionError(CardshieldError):
    """The ciphertext or wrapped key does not authenticate under this key and context."""

    code = "decryption_failed"
    default_message = ""

    def __init__(self) -> None:
        # No message and no parameters on purpose: every failure must look identical.
        super().__init__()


class KMSError(CardshieldError):
    """The key provider cannot be reached, is misconfigured, or refused an operation."""

    code = "kms_unavailable"
    http_status = 503
    default_message = "The key management service is unavailable."


class KeyFileError(KMSError, ConfigError):
    """The local key file is missing, unreadable, readable by others, or corrupt."""

    type = "config_error"
    code = "key_file_invalid"
    http_status = 500
    default_message = "The key file is invalid."
