"""The pkcs11 provider against a real SoftHSM2 token: keys stay inside the token
(sensitive, never extractable), login and configuration errors are one clear KMSError line,
and nothing prints the PIN."""

from __future__ import annotations

import os
import subprocess
import sys

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11

from cardshield.crypto import DecryptionError, KMSError, generate_data_key
from cardshield.crypto.kms import init_kms, open_kms
from cardshield.crypto.kms.pkcs11 import Pkcs11KMS

from .conftest import SoftHSM

pytestmark = pytest.mark.integration


@pytest.fixture
def hsm_url(softhsm: SoftHSM, hsm_prefix: str) -> str:
    url = softhsm.url(hsm_prefix)
    init_kms(url).close()
    return url


def _token_objects(softhsm: SoftHSM, prefix: str) -> dict[str, dict[Attribute, object]]:
    """Attributes of the token's secret keys labelled ``prefix-*``, read by a separate session."""
    token = pkcs11.lib(softhsm.module).get_token(token_label=softhsm.token)
    with token.open(user_pin=softhsm.pin) as session:
        found = {}
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
            if obj.label.startswith(prefix + "-"):
                attrs = {
                    a: obj[a]
                    for a in (
                        Attribute.EXTRACTABLE,
                        Attribute.SENSITIVE,
                        Attribute.NEVER_EXTRACTABLE,
                        Attribute.ALWAYS_SENSITIVE,
                        Attribute.TOKEN,
                        Attribute.PRIVATE,
                    )
                }
                with pytest.raises(p11.AttributeSensitive):
                    obj[Attribute.VALUE]
                found[obj.label] = attrs
        return found


def test_keys_are_generated_inside_the_token_and_never_extractable(
    softhsm: SoftHSM, hsm_url: str, hsm_prefix: str
) -> None:
    kms = open_kms(hsm_url)
    try:
        kms.rotate()
    finally:
        kms.close()
    objects = _token_objects(softhsm, hsm_prefix)
    assert sorted(objects) == [f"{hsm_prefix}-mac", f"{hsm_prefix}-v1", f"{hsm_prefix}-v2"]
    for attrs in objects.values():
        assert attrs == {
            Attribute.EXTRACTABLE: False,
            Attribute.SENSITIVE: True,
            Attribute.NEVER_EXTRACTABLE: True,
            Attribute.ALWAYS_SENSITIVE: True,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
        }


def test_retire_destroys_the_key_object(softhsm: SoftHSM, hsm_url: str, hsm_prefix: str) -> None:
    kms = open_kms(hsm_url)
    try:
        kms.rotate()
        kms.retire(1)
    finally:
        kms.close()
    assert sorted(_token_objects(softhsm, hsm_prefix)) == [f"{hsm_prefix}-mac", f"{hsm_prefix}-v2"]


def test_wrong_pin_is_a_clear_kms_error(softhsm: SoftHSM, hsm_url: str, hsm_prefix: str) -> None:
    # No provider of this process may be logged in, or PKCS#11 would share that login.
    with pytest.raises(KMSError) as info:
        open_kms(softhsm.url(hsm_prefix, pin="000000"))
    message = str(info.value)
    assert message == "PKCS#11 login to token 'cardshield-test' failed: wrong PIN (check pin=)"
    assert "000000" not in message


def test_pin_comes_from_the_named_environment_variable(
    softhsm: SoftHSM, hsm_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"pkcs11:{softhsm.token}?prefix={hsm_prefix}&pin_env=CS_TEST_HSM_PIN"
    monkeypatch.delenv("CS_TEST_HSM_PIN", raising=False)
    with pytest.raises(KMSError, match=r"CS_TEST_HSM_PIN .*is not set"):
        init_kms(url)
    monkeypatch.setenv("CS_TEST_HSM_PIN", "999999")
    with pytest.raises(KMSError, match=r"wrong PIN \(check the variable CS_TEST_HSM_PIN\)"):
        init_kms(url)
    monkeypatch.setenv("CS_TEST_HSM_PIN", softhsm.pin)
    kms = init_kms(url)  # the default module is Debian's SoftHSM2
    try:
        assert kms.versions() == [1]
        assert softhsm.pin not in repr(kms) + str(kms)
        assert repr(kms) == f"Pkcs11KMS(token='cardshield-test', prefix='{hsm_prefix}')"
    finally:
        kms.close()


def test_open_before_init_says_run_keys_init(softhsm: SoftHSM, hsm_prefix: str) -> None:
    with pytest.raises(KMSError, match=r"no KEK labelled .*-v<N> .*run `cardshield keys init`"):
        open_kms(softhsm.url(hsm_prefix))


def test_init_refuses_an_existing_prefix(softhsm: SoftHSM, hsm_url: str, hsm_prefix: str) -> None:
    with pytest.raises(KMSError, match="already holds keys"):
        init_kms(hsm_url)
    assert len(_token_objects(softhsm, hsm_prefix)) == 2


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("?pin=1", "needs a token label"),
        ("tok", "exactly one of pin_env=VAR or pin="),
        ("tok?pin=1&pin_env=X", "exactly one of pin_env=VAR or pin="),
        ("tok?pin=1&slot=3", "unknown pkcs11 KMS URL option"),
        ("tok?pin=1&prefix=bad prefix!", "prefix must be"),
        ("tok?pin=1&module=/nonexistent/libhsm.so", "module /nonexistent/libhsm.so not found"),
        ("no-such-token?pin=1", "token 'no-such-token' not found"),
    ],
)
def test_configuration_errors(softhsm: SoftHSM, rest: str, expected: str) -> None:
    with pytest.raises(KMSError) as info:
        open_kms(f"pkcs11:{rest}")
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_a_lost_session_is_reopened(hsm_url: str) -> None:
    kms = open_kms(hsm_url)
    assert isinstance(kms, Pkcs11KMS)
    try:
        key = generate_data_key()
        wrapped = kms.wrap(key, context=b"c")
        kms._session.close()  # what an HSM restart looks like from here
        assert kms.unwrap(wrapped, context=b"c") == key
    finally:
        kms.close()
    with pytest.raises(KMSError, match="closed"):
        kms.wrap(key, context=b"c")


def test_keys_persist_in_the_token_for_another_process(softhsm: SoftHSM, hsm_url: str) -> None:
    kms = open_kms(hsm_url)
    try:
        key = generate_data_key()
        stored = kms.wrap(key, context=b"merchant:m_1").to_bytes()
        sig = kms.sign(b"checkpoint")
    finally:
        kms.close()
    script = (
        "import sys\n"
        "from cardshield.crypto.kms import WrappedKey, open_kms\n"
        "kms = open_kms(sys.argv[1])\n"
        "w = WrappedKey.from_bytes(bytes.fromhex(sys.argv[2]))\n"
        "print(kms.unwrap(w, context=b'merchant:m_1').hex())\n"
        "print(kms.verify(b'checkpoint', bytes.fromhex(sys.argv[3])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, hsm_url, stored.hex(), sig.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SOFTHSM2_CONF": str(softhsm.conf)},
        check=True,
    ).stdout.split()
    assert out == [key.hex(), "True"]


def test_unwrap_failures_inside_the_token_are_opaque(hsm_url: str) -> None:
    kms = open_kms(hsm_url)
    try:
        wrapped = kms.wrap(generate_data_key(), context=b"c")
        with pytest.raises(DecryptionError) as info:
            kms.unwrap(wrapped, context=b"d")
        assert str(info.value) == ""
        assert info.value.__cause__ is None
    finally:
        kms.close()
