"""The aws provider against moto's KMS server on loopback: versions are visible as aliases,
wrapping uses KMS encryption context, and every botocore failure becomes one KMSError line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from cardshield.crypto import KMSError, generate_data_key
from cardshield.crypto.kms import init_kms, open_kms

from .conftest import MotoKMS

pytestmark = pytest.mark.integration


@pytest.fixture
def kms_client(moto_kms: MotoKMS) -> Iterator[Any]:
    client = boto3.client("kms", region_name=moto_kms.region, endpoint_url=moto_kms.endpoint)
    yield client
    client.close()


def _aliases(client: Any, alias: str) -> dict[str, str]:
    out = {}
    for page in client.get_paginator("list_aliases").paginate():
        for a in page["Aliases"]:
            if a["AliasName"] == alias or a["AliasName"].startswith(alias + "/"):
                out[a["AliasName"]] = a["TargetKeyId"]
    return out


def test_versions_are_kms_keys_behind_aliases(
    moto_kms: MotoKMS, aws_alias: str, kms_client: Any
) -> None:
    kms = init_kms(moto_kms.url(aws_alias))
    try:
        assert kms.rotate() == 2
    finally:
        kms.close()
    aliases = _aliases(kms_client, aws_alias)
    assert sorted(aliases) == sorted(
        [aws_alias, f"{aws_alias}/v1", f"{aws_alias}/v2", f"{aws_alias}/mac"]
    )
    assert aliases[aws_alias] == aliases[f"{aws_alias}/v2"] != aliases[f"{aws_alias}/v1"]
    mac = kms_client.describe_key(KeyId=aliases[f"{aws_alias}/mac"])["KeyMetadata"]
    assert (mac["KeySpec"], mac["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    kek = kms_client.describe_key(KeyId=aliases[f"{aws_alias}/v2"])["KeyMetadata"]
    assert (kek["KeySpec"], kek["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")


@pytest.mark.parametrize(
    ("context", "expected"),
    [(b"merchant:m_1", "ctx:merchant:m_1"), (b"\xff\x00", "b64:/wA="), (b"", "ctx:")],
)
def test_wrap_is_kms_encrypt_with_the_context(
    moto_kms: MotoKMS, aws_alias: str, kms_client: Any, context: bytes, expected: str
) -> None:
    kms = init_kms(moto_kms.url(aws_alias))
    try:
        key = generate_data_key()
        blob = kms.wrap(key, context=context).blob
    finally:
        kms.close()
    key_id = blob[1 : 1 + blob[0]].decode()
    assert key_id == _aliases(kms_client, aws_alias)[f"{aws_alias}/v1"]
    plain = kms_client.decrypt(
        CiphertextBlob=blob[1 + blob[0] :],
        KeyId=key_id,
        EncryptionContext={"cardshield-context": expected},
    )["Plaintext"]
    assert plain == key


def test_retire_removes_the_alias_and_schedules_deletion(
    moto_kms: MotoKMS, aws_alias: str, kms_client: Any
) -> None:
    kms = init_kms(moto_kms.url(aws_alias))
    try:
        v1_key = _aliases(kms_client, aws_alias)[f"{aws_alias}/v1"]
        kms.rotate()
        kms.retire(1)
        assert kms.versions() == [2]
    finally:
        kms.close()
    assert f"{aws_alias}/v1" not in _aliases(kms_client, aws_alias)
    state = kms_client.describe_key(KeyId=v1_key)["KeyMetadata"]["KeyState"]
    assert state == "PendingDeletion"


def test_open_before_init_and_init_twice(moto_kms: MotoKMS, aws_alias: str) -> None:
    with pytest.raises(KMSError, match=r"no KEK versions .* run `cardshield keys init`"):
        open_kms(moto_kms.url(aws_alias))
    init_kms(moto_kms.url(aws_alias)).close()
    with pytest.raises(KMSError, match="already exists"):
        init_kms(moto_kms.url(aws_alias))


def test_unreachable_endpoint_is_one_clear_line(aws_alias: str, moto_kms: MotoKMS) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"aws:{aws_alias}?region=eu-west-1&endpoint_url=http://127.0.0.1:{port}"
    with pytest.raises(KMSError) as info:
        open_kms(url)
    assert str(info.value) == (
        f"cannot reach AWS KMS at http://127.0.0.1:{port}: check the network"
    )


def test_missing_credentials(
    moto_kms: MotoKMS, aws_alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(KMSError, match="no AWS credentials found"):
        open_kms(moto_kms.url(aws_alias))


def test_missing_region(moto_kms: MotoKMS, aws_alias: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(KMSError, match="AWS region not set: add region="):
        open_kms(f"aws:{aws_alias}?endpoint_url={moto_kms.endpoint}")


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("", "needs a key alias"),
        ("cardshield?region=eu-west-1", "needs a key alias"),
        ("alias/aws/ebs?region=eu-west-1", "needs a key alias"),
        ("alias/x y?region=eu-west-1", "needs a key alias"),
        ("alias/x?region=eu-west-1&secret_key=abc", "unknown aws KMS URL option(s): secret_key"),
    ],
)
def test_url_errors(rest: str, expected: str) -> None:
    with pytest.raises(KMSError) as info:
        open_kms(f"aws:{rest}")
    assert expected in str(info.value)
    assert "abc" not in str(info.value)


def test_repr_shows_no_credentials(moto_kms: MotoKMS, aws_alias: str) -> None:
    kms = init_kms(moto_kms.url(aws_alias))
    try:
        assert repr(kms) == f"AwsKMS({aws_alias!r})"
        assert "testing" not in repr(kms) + str(kms)
    finally:
        kms.close()
