"""``pkcs11:`` -- KEKs inside an HSM, through PKCS#11 (python-pkcs11). SoftHSM2 in tests.

URL (token label first, options as a query; percent-encode spaces)::

    pkcs11:TOKEN_LABEL?pin_env=CARDSHIELD_HSM_PIN&module=/usr/lib/softhsm/libsofthsm2.so
                      &prefix=cardshield-kek

* ``pin_env`` names the environment variable holding the user PIN, so the URL can be logged;
  ``pin=`` (the PIN itself) is accepted for tests. Exactly one of them is required.
* ``module`` defaults to Debian's SoftHSM2 module, ``/usr/lib/softhsm/libsofthsm2.so``.
* ``prefix`` (default ``cardshield-kek``) names the token objects: KEK version N is the AES-256
  secret key labelled ``<prefix>-v<N>``, the audit signing key is the HMAC key ``<prefix>-mac``.

Keys are generated in the token as sensitive, non-extractable token objects, so the KEK never
leaves the HSM: wrapping is CKM_AES_GCM encryption of the data key *inside the token* with a
fresh 96-bit nonce and ``label | version | context`` as associated data (the blob is
``nonce | ciphertext | tag``), unwrapping is the matching decryption; signing is CKM_SHA256_HMAC
with the token's HMAC key. ``rotate`` generates ``<prefix>-v<N+1>``; ``retire`` destroys a
version's key object. ``init_url`` (``cardshield keys init``) creates v1 and the HMAC key and
refuses if the prefix is in use. Rotation is an operator action and assumes one rotator at a
time; a concurrent duplicate is detected and undone.

PKCS#11 logs in per application: while another provider in this process holds a session on the
same token, a second one shares that login instead of presenting its PIN again. One session per
provider, used under a lock; a lost session (HSM restart) is reopened once before giving up.
Errors from the token surface as KMSError with one line that says what to do, except failures to
authenticate a wrapped key, which are the message-less DecryptionError.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.mechanisms import GCMParams

from cardshield.crypto.errors import DecryptionError, KMSError
from cardshield.crypto.kms.base import WrappedKey, check_data_key

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
DEFAULT_PREFIX = "cardshield-kek"

_NONCE = 12
_TAG_BITS = 128
_LABEL = b"cardshield/kek-wrap/v1\x00"
_VERSION = struct.Struct(">I")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# What a token answers when the data, not the device, is at fault (SoftHSM2 reports a bad GCM
# tag as CKR_GENERAL_ERROR).
_BAD_DATA = (
    p11.GeneralError,
    p11.EncryptedDataInvalid,
    p11.EncryptedDataLenRange,
    p11.DataInvalid,
    p11.DataLenRange,
    p11.MechanismParamInvalid,
    p11.ArgumentsBad,
    p11.FunctionFailed,
)
_LOST_SESSION = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.UserNotLoggedIn,
)
_SECRET = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True}
T = TypeVar("T")


class _Config:
    def __init__(self, rest: str) -> None:
        label, _, query = rest.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        unknown = set(params) - {"pin", "pin_env", "module", "prefix"}
        if unknown:
            raise KMSError(f"unknown pkcs11 KMS URL option(s): {', '.join(sorted(unknown))}")
        self.token = unquote(label)
        if not self.token:
            raise KMSError("pkcs11 KMS URL needs a token label: pkcs11:LABEL?pin_env=VAR")
        self.module = params.get("module") or DEFAULT_MODULE
        self.prefix = params.get("prefix") or DEFAULT_PREFIX
        if not _PREFIX_RE.match(self.prefix):
            raise KMSError("pkcs11 KMS URL prefix must be 1-64 of A-Z a-z 0-9 _ . : -")
        if ("pin" in params) == ("pin_env" in params):
            raise KMSError("pkcs11 KMS URL needs exactly one of pin_env=VAR or pin=")
        self.pin_env = params.get("pin_env")
        self._pin = params.get("pin")

    def pin(self) -> str:
        if self.pin_env is None:
            return self._pin or ""
        value = os.environ.get(self.pin_env)
        if not value:
            raise KMSError(
                f"environment variable {self.pin_env} (pin_env) is not set: "
                "export the HSM user PIN in it"
            )
        return value


class Pkcs11KMS:
    """KEK versions and an HMAC key held in a PKCS#11 token."""

    name = "pkcs11"

    def __init__(self, rest: str) -> None:
        self._cfg = _Config(rest)
        self._lock = threading.RLock()
        self._keys: dict[int, Any] = {}
        self._mac: Any = None
        self._session: Any = None
        self._open_session()

    # -- session ---------------------------------------------------------------------------

    def _open_session(self) -> None:
        cfg = self._cfg
        if not os.path.exists(cfg.module):
            raise KMSError(
                f"PKCS#11 module {cfg.module} not found: install the HSM's PKCS#11 library "
                "(softhsm2 on Debian) or set module= in the KMS URL"
            )
        try:
            token = pkcs11.lib(cfg.module).get_token(token_label=cfg.token)
        except p11.NoSuchToken:
            raise KMSError(
                f"PKCS#11 token {cfg.token!r} not found in {cfg.module}: "
                "check the token label in the KMS URL"
            ) from None
        except p11.PKCS11Error as exc:
            raise KMSError(f"cannot load PKCS#11 module {cfg.module}: {exc}") from exc
        pin = cfg.pin()
        try:
            self._session = token.open(rw=True, user_pin=pin)
        except p11.UserAlreadyLoggedIn:
            # Another session of this process is logged in: PKCS#11 shares that login.
            self._session = token.open(rw=True)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            where = f"the variable {cfg.pin_env}" if cfg.pin_env else "pin="
            raise KMSError(
                f"PKCS#11 login to token {cfg.token!r} failed: wrong PIN (check {where})"
            ) from None
        except p11.PinLocked:
            raise KMSError(
                f"PKCS#11 token {cfg.token!r} has a locked user PIN: unlock it with the SO PIN"
            ) from None
        except p11.PKCS11Error as exc:
            raise KMSError(f"cannot open a session on PKCS#11 token {cfg.token!r}: {exc}") from exc
        finally:
            del pin
        self._keys.clear()
        self._mac = None

    def _call(self, op: Callable[[], T]) -> T:
        """Run ``op`` under the lock; reopen a lost session once; map token errors."""
        with self._lock:
            if self._session is None:
                raise KMSError("this pkcs11 KMS provider is closed")
            try:
                return op()
            except _LOST_SESSION:
                self._open_session()
                try:
                    return op()
                except p11.PKCS11Error as exc:
                    raise self._failed(exc) from exc
            except (DecryptionError, KMSError, ValueError):
                raise
            except p11.PKCS11Error as exc:
                raise self._failed(exc) from exc

    def _failed(self, exc: p11.PKCS11Error) -> KMSError:
        name = type(exc).__name__
        return KMSError(f"PKCS#11 token {self._cfg.token!r} failed ({name}): check the HSM")

    # -- key objects -----------------------------------------------------------------------

    def _label(self, version: int) -> str:
        return f"{self._cfg.prefix}-v{version}"

    def _list_versions(self) -> list[int]:
        pattern = re.compile(rf"^{re.escape(self._cfg.prefix)}-v([1-9][0-9]{{0,9}})$")
        found = set()
        for obj in self._session.get_objects(
            {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
        ):
            match = pattern.match(obj.label or "")
            if match:
                found.add(int(match.group(1)))
        return sorted(found)

    def _require_versions(self) -> list[int]:
        found = self._list_versions()
        if not found:
            raise KMSError(
                f"no KEK labelled {self._cfg.prefix}-v<N> in PKCS#11 token {self._cfg.token!r}: "
                "run `cardshield keys init`"
            )
        return found

    def _kek(self, version: int) -> Any:
        key = self._keys.get(version)
        if key is None:
            try:
                key = self._session.get_key(
                    object_class=ObjectClass.SECRET_KEY, label=self._label(version)
                )
            except p11.NoSuchKey:
                return None
            self._keys[version] = key
        return key

    def _mac_key(self) -> Any:
        if self._mac is None:
            try:
                self._mac = self._session.get_key(
                    object_class=ObjectClass.SECRET_KEY, label=f"{self._cfg.prefix}-mac"
                )
            except p11.NoSuchKey:
                raise KMSError(
                    f"no signing key labelled {self._cfg.prefix}-mac in PKCS#11 token "
                    f"{self._cfg.token!r}: run `cardshield keys init`"
                ) from None
        return self._mac

    def _generate_kek(self, version: int) -> Any:
        return self._session.generate_key(
            KeyType.AES,
            256,
            label=self._label(version),
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template=dict(_SECRET),
        )

    def _initialize(self) -> None:
        def op() -> None:
            prefix = self._cfg.prefix
            for obj in self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                if (obj.label or "").startswith(prefix + "-"):
                    raise KMSError(
                        f"PKCS#11 token {self._cfg.token!r} already holds keys labelled "
                        f"{prefix}-*; refusing to create them again"
                    )
            self._generate_kek(1)
            self._session.generate_key(
                KeyType.GENERIC_SECRET,
                256,
                label=f"{prefix}-mac",
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                template=dict(_SECRET),
            )

        self._call(op)

    # -- KMSProvider -----------------------------------------------------------------------

    def current_version(self) -> int:
        return self._call(lambda: self._require_versions()[-1])

    def versions(self) -> list[int]:
        return self._call(self._require_versions)

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        check_data_key(key)

        def op() -> WrappedKey:
            version = self._require_versions()[-1]
            nonce = os.urandom(_NONCE)
            params = GCMParams(nonce, _aad(version, context), _TAG_BITS)
            sealed = self._kek(version).encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=params
            )
            return WrappedKey(version, nonce + bytes(sealed))

        return self._call(op)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        blob = wrapped.blob
        if len(blob) < _NONCE + _TAG_BITS // 8:
            raise DecryptionError from None

        def op() -> bytes:
            kek = self._kek(wrapped.kek_version)
            if kek is None:
                raise DecryptionError from None
            params = GCMParams(blob[:_NONCE], _aad(wrapped.kek_version, context), _TAG_BITS)
            try:
                plain = kek.decrypt(
                    blob[_NONCE:], mechanism=Mechanism.AES_GCM, mechanism_param=params
                )
            except _BAD_DATA:
                raise DecryptionError from None
            return bytes(plain)

        return self._call(op)

    def rotate(self) -> int:
        def op() -> int:
            version = self._require_versions()[-1] + 1
            created = self._generate_kek(version)
            twins = list(
                self._session.get_objects(
                    {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: self._label(version)}
                )
            )
            if len(twins) > 1:
                created.destroy()
                raise KMSError("another rotation ran at the same time: run `keys rotate` again")
            self._keys[version] = created
            return version

        return self._call(op)

    def retire(self, version: int) -> None:
        def op() -> None:
            if version == self._require_versions()[-1]:
                raise ValueError("cannot retire the current KEK version: rotate first")
            kek = self._kek(version)
            if kek is not None:
                kek.destroy()
            self._keys.pop(version, None)

        self._call(op)

    def sign(self, data: bytes) -> bytes:
        return self._call(
            lambda: bytes(self._mac_key().sign(data, mechanism=Mechanism.SHA256_HMAC))
        )

    def verify(self, data: bytes, signature: bytes) -> bool:
        if not signature:
            return False

        def op() -> bool:
            try:
                return bool(
                    self._mac_key().verify(data, signature, mechanism=Mechanism.SHA256_HMAC)
                )
            except (p11.SignatureInvalid, p11.SignatureLenRange):
                return False

        return self._call(op)

    def check(self) -> None:
        def op() -> None:
            self._require_versions()
            self._mac_key().sign(b"cardshield-check", mechanism=Mechanism.SHA256_HMAC)

        self._call(op)

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            self._keys.clear()
            self._mac = None
            if session is not None:
                # The token may already have dropped the session.
                with contextlib.suppress(p11.PKCS11Error):
                    session.close()

    def __repr__(self) -> str:
        return f"Pkcs11KMS(token={self._cfg.token!r}, prefix={self._cfg.prefix!r})"


def _aad(version: int, context: bytes) -> bytes:
    return _LABEL + _VERSION.pack(version) + context


def open_url(rest: str, *, now: Callable[[], datetime]) -> Pkcs11KMS:
    provider = Pkcs11KMS(rest)
    try:
        provider.check()
    except BaseException:
        provider.close()
        raise
    return provider


def init_url(rest: str, *, now: Callable[[], datetime]) -> Pkcs11KMS:
    provider = Pkcs11KMS(rest)
    try:
        provider._initialize()
    except BaseException:
        provider.close()
        raise
    return provider
