"""``aws:`` -- KEKs in AWS KMS, through boto3.

URL::

    aws:alias/cardshield?region=eu-west-1[&endpoint_url=http://127.0.0.1:4566][&profile=NAME]

Credentials come from boto3's usual chain (environment, profile, instance role); none go in
the URL. Region falls back to ``AWS_REGION``/``AWS_DEFAULT_REGION``.

Versions are KMS keys found through aliases, so the mapping is visible in the AWS console::

    alias/cardshield/v1, alias/cardshield/v2, ...   KEK version N -> its own KMS key
    alias/cardshield                                 the current version's key
    alias/cardshield/mac                             HMAC_256 key for audit checkpoints

``rotate`` creates a new symmetric key, names it ``<alias>/v<N+1>`` and repoints ``<alias>``;
``retire(N)`` removes ``<alias>/vN`` and schedules the key's deletion (30 days, the longest
window, so a mistake can still be cancelled in KMS). ``init_url`` creates v1, the alias and the
HMAC key, and refuses if the alias exists.

Wrapping is ``Encrypt`` under version N's key with the context as encryption context
(``{"cardshield-context": "ctx:<utf-8 text>"}`` or ``"b64:<base64>"`` for other bytes); the
blob is ``uint8 n | key id (n ASCII bytes) | KMS CiphertextBlob``. Unwrapping checks that the
key id in the blob is the one version N names *before* asking KMS, then calls ``Decrypt`` with
that ``KeyId``, so a blob relabelled to another version never reaches KMS. Signing is
``GenerateMac``/``VerifyMac`` (HMAC_SHA_256).

botocore errors are translated here: a ciphertext KMS rejects (``InvalidCiphertextException``,
``IncorrectKeyException``, or ``AccessDeniedException`` naming a key that is not this one) is the
message-less DecryptionError; network, credential, region, permission and key-state problems are
a one-line KMSError. ``check()`` (run by ``open_kms``) does an Encrypt/Decrypt round trip and a
MAC, so missing ``kms:Decrypt`` permission surfaces at start-up rather than as decrypt failures.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import boto3  # type: ignore[import-untyped]
import botocore.exceptions as bce  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from cardshield.crypto.errors import DecryptionError, KMSError
from cardshield.crypto.kms.base import WrappedKey, check_data_key

_ALIAS_RE = re.compile(r"^alias/(?!aws/)[A-Za-z0-9/_-]{1,200}$")
_CONFIG = Config(
    connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"}
)
_UNREADABLE = {"InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"}
_MAC_ALGORITHM = "HMAC_SHA_256"
_KEK_SPEC = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}


def _context(context: bytes) -> dict[str, str]:
    try:
        value = "ctx:" + context.decode("utf-8")
    except UnicodeDecodeError:
        value = "b64:" + base64.b64encode(context).decode()
    return {"cardshield-context": value}


class AwsKMS:
    """KEK versions as KMS keys behind ``<alias>/v<N>`` aliases."""

    name = "aws"

    def __init__(self, rest: str) -> None:
        alias, _, query = rest.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        unknown = set(params) - {"region", "endpoint_url", "profile"}
        if unknown:
            raise KMSError(f"unknown aws KMS URL option(s): {', '.join(sorted(unknown))}")
        if not _ALIAS_RE.match(alias):
            raise KMSError("aws KMS URL needs a key alias: aws:alias/NAME?region=REGION")
        self._alias = alias
        self._endpoint = params.get("endpoint_url") or None
        self._lock = threading.Lock()
        self._known: dict[int, str] = {}  # version -> key id, refreshed on a miss
        try:
            session = boto3.session.Session(
                profile_name=params.get("profile") or None,
                region_name=params.get("region") or None,
            )
            self._client = session.client("kms", endpoint_url=self._endpoint, config=_CONFIG)
        except bce.NoRegionError:
            raise KMSError(
                "AWS region not set: add region= to the KMS URL or set AWS_REGION"
            ) from None
        except bce.ProfileNotFound:
            raise KMSError("AWS profile in the KMS URL not found in the AWS config") from None
        except bce.BotoCoreError as exc:
            raise KMSError(f"cannot set up the AWS KMS client: {exc}") from exc

    # -- calls -----------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """One KMS API call; every botocore error becomes a KMSError (ClientError kept)."""
        try:
            return getattr(self._client, operation)(**kwargs)
        except bce.ClientError:
            raise
        except (bce.NoCredentialsError, bce.PartialCredentialsError):
            raise KMSError(
                "no AWS credentials found: configure the environment, a profile or a role"
            ) from None
        except (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ReadTimeoutError):
            where = self._endpoint or "the regional endpoint"
            raise KMSError(f"cannot reach AWS KMS at {where}: check the network") from None
        except bce.BotoCoreError as exc:
            raise KMSError(f"AWS KMS {operation} failed: {type(exc).__name__}") from exc

    def _client_error(self, operation: str, exc: bce.ClientError) -> KMSError:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code in {"AccessDeniedException", "UnrecognizedClientException"}:
            return KMSError(f"AWS KMS denied {operation} ({code}): check this role's KMS policy")
        if code == "NotFoundException":
            return KMSError(f"AWS KMS key {self._alias} not found: run `cardshield keys init`")
        return KMSError(f"AWS KMS {operation} failed ({code})")

    def _api(self, operation: str, **kwargs: Any) -> Any:
        try:
            return self._call(operation, **kwargs)
        except bce.ClientError as exc:
            raise self._client_error(operation, exc) from exc

    # -- versions --------------------------------------------------------------------------

    def _aliases(self) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        while True:
            page = self._api("list_aliases", **({"Marker": marker} if marker else {}))
            yield from page.get("Aliases", [])
            marker = page.get("NextMarker") if page.get("Truncated") else None
            if not marker:
                return

    def _scan(self) -> dict[int, str]:
        pattern = re.compile(rf"^{re.escape(self._alias)}/v([1-9][0-9]{{0,9}})$")
        found: dict[int, str] = {}
        for entry in self._aliases():
            match = pattern.match(entry.get("AliasName", ""))
            if match and entry.get("TargetKeyId"):
                found[int(match.group(1))] = entry["TargetKeyId"]
        with self._lock:
            self._known = dict(found)
        return found

    def _require(self) -> dict[int, str]:
        found = self._scan()
        if not found:
            raise KMSError(
                f"no KEK versions under AWS KMS alias {self._alias}/v<N>: "
                "run `cardshield keys init`"
            )
        return found

    def _key_for(self, version: int) -> str | None:
        with self._lock:
            key_id = self._known.get(version)
        return key_id if key_id is not None else self._scan().get(version)

    # -- KMSProvider -----------------------------------------------------------------------

    def current_version(self) -> int:
        return max(self._require())

    def versions(self) -> list[int]:
        return sorted(self._require())

    def wrap(self, key: bytes, *, context: bytes) -> WrappedKey:
        check_data_key(key)
        found = self._require()
        version = max(found)
        key_id = found[version]
        out = self._api("encrypt", KeyId=key_id, Plaintext=key, EncryptionContext=_context(context))
        raw_id = key_id.encode("ascii")
        return WrappedKey(version, bytes((len(raw_id),)) + raw_id + out["CiphertextBlob"])

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        blob = wrapped.blob
        n = blob[0] if blob else 0
        try:
            key_id = blob[1 : 1 + n].decode("ascii")
        except UnicodeDecodeError:
            raise DecryptionError from None
        sealed = blob[1 + n :]
        if not n or not sealed or self._key_for(wrapped.kek_version) != key_id:
            raise DecryptionError from None
        try:
            out = self._call(
                "decrypt",
                KeyId=key_id,
                CiphertextBlob=sealed,
                EncryptionContext=_context(context),
            )
        except bce.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _UNREADABLE:
                raise DecryptionError from None
            raise self._client_error("Decrypt", exc) from exc
        return bytes(out["Plaintext"])

    def _new_key(self, description: str, **spec: str) -> str:
        meta = self._api("create_key", Description=description, **spec)["KeyMetadata"]
        return str(meta["KeyId"])

    def rotate(self) -> int:
        version = self.current_version() + 1
        key_id = self._new_key(f"cardshield KEK {self._alias} v{version}", **_KEK_SPEC)
        try:
            self._call("create_alias", AliasName=f"{self._alias}/v{version}", TargetKeyId=key_id)
        except bce.ClientError as exc:
            self._api("schedule_key_deletion", KeyId=key_id, PendingWindowInDays=7)
            if exc.response.get("Error", {}).get("Code") == "AlreadyExistsException":
                raise KMSError(
                    "another rotation ran at the same time: run `keys rotate` again"
                ) from None
            raise self._client_error("CreateAlias", exc) from exc
        self._api("update_alias", AliasName=self._alias, TargetKeyId=key_id)
        self._scan()
        return version

    def retire(self, version: int) -> None:
        found = self._require()
        if version == max(found):
            raise ValueError("cannot retire the current KEK version: rotate first")
        key_id = found.get(version)
        if key_id is None:
            return
        self._api("delete_alias", AliasName=f"{self._alias}/v{version}")
        self._api("schedule_key_deletion", KeyId=key_id, PendingWindowInDays=30)
        self._scan()

    def sign(self, data: bytes) -> bytes:
        out = self._api(
            "generate_mac", KeyId=f"{self._alias}/mac", Message=data, MacAlgorithm=_MAC_ALGORITHM
        )
        return bytes(out["Mac"])

    def verify(self, data: bytes, signature: bytes) -> bool:
        if not signature:
            return False
        try:
            out = self._call(
                "verify_mac",
                KeyId=f"{self._alias}/mac",
                Message=data,
                Mac=signature,
                MacAlgorithm=_MAC_ALGORITHM,
            )
        except bce.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {
                "KMSInvalidMacException",
                "ValidationException",
            }:
                return False
            raise self._client_error("VerifyMac", exc) from exc
        return bool(out.get("MacValid"))

    def check(self) -> None:
        probe = b"cardshield-check" * 2
        try:
            ok = self.unwrap(self.wrap(probe, context=b"check"), context=b"check") == probe
        except DecryptionError:
            ok = False
        if not ok:
            raise KMSError(
                f"AWS KMS cannot decrypt under {self._alias}: check kms:Decrypt in the key policy"
            )
        self.sign(b"cardshield-check")

    def _initialize(self) -> None:
        taken = [
            a["AliasName"]
            for a in self._aliases()
            if a["AliasName"] == self._alias or a["AliasName"].startswith(self._alias + "/")
        ]
        if taken:
            raise KMSError(f"AWS KMS alias {self._alias} already exists; refusing to create it")
        kek = self._new_key(f"cardshield KEK {self._alias} v1", **_KEK_SPEC)
        mac = self._new_key(
            f"cardshield audit MAC {self._alias}",
            KeySpec="HMAC_256",
            KeyUsage="GENERATE_VERIFY_MAC",
        )
        self._api("create_alias", AliasName=f"{self._alias}/v1", TargetKeyId=kek)
        self._api("create_alias", AliasName=self._alias, TargetKeyId=kek)
        self._api("create_alias", AliasName=f"{self._alias}/mac", TargetKeyId=mac)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"AwsKMS({self._alias!r})"


def open_url(rest: str, *, now: Callable[[], datetime]) -> AwsKMS:
    provider = AwsKMS(rest)
    try:
        provider.check()
    except BaseException:
        provider.close()
        raise
    return provider


def init_url(rest: str, *, now: Callable[[], datetime]) -> AwsKMS:
    provider = AwsKMS(rest)
    provider._initialize()
    return provider
