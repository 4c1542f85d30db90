"""Security keys (WebAuthn) as a second factor: registration and sign-in answers checked by
the real webauthn library, against a software authenticator with a real P-256 key.

Covered: the relying party from the console URL; a key added and used; the challenge, the
origin and the relying party must match; a replayed or cloned answer, another operator's
key and a removed key are refused and counted toward lockout; limits; an MFA reset forgets
keys. Time is passed in throughout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from cardshield.crypto import Secret
from cardshield.crypto.kms import KMSProvider
from cardshield.security import events, security_keys, sessions
from cardshield.security.errors import (
    SecurityKeyNotFound,
    SecurityKeyRejected,
    SignInFailed,
    TooManySecurityKeys,
)
from cardshield.security.operators import Operator, Operators
from cardshield.security.security_keys import RelyingParty
from cardshield.security.signin import MAX_FAILED_ATTEMPTS, SignIn
from cardshield.storage.schema import audit_log, operator_security_keys, operators
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.security.conftest import NOW
from tests.unit.security.operator_support import (
    PASSWORD,
    accounts,
    actions,
    clear,
    enrolled,
    shared_database,
)
from tests.unit.security.soft_authenticator import SoftKey, b64url, unb64url

migrated = shared_database()
ORIGIN = "https://console.example.com"
RP = RelyingParty.for_url(ORIGIN + "/console/")
assert RP is not None


@pytest.fixture
def engine(migrated: Engine) -> Iterator[Engine]:
    yield migrated
    clear(migrated)


def test_relying_party_comes_from_the_console_url() -> None:
    rp = RelyingParty.for_url("https://Console.Example.com/console")
    assert rp is not None and (rp.id, rp.origin) == (
        "console.example.com",
        "https://console.example.com",
    )
    port = RelyingParty.for_url("https://pay.example.org:8443/")
    assert port is not None and port.origin == "https://pay.example.org:8443"
    assert RelyingParty.for_url("https://pay.example.org:443").origin == "https://pay.example.org"  # type: ignore[union-attr]
    local = RelyingParty.for_url("http://localhost:8750")
    assert local is not None and (local.id, local.origin) == ("localhost", "http://localhost:8750")
    # WebAuthn needs a host name and a secure context: no keys there.
    for url in (
        "http://127.0.0.1:8750",
        "https://10.1.2.3",
        "https://[::1]:8443",
        "http://console.example.com",
        "ftp://console.example.com",
        "https://console.example.com:port",
        "",
    ):
        assert RelyingParty.for_url(url) is None, url


def _challenge(options: str) -> bytes:
    return unb64url(json.loads(options)["challenge"])


def _add(
    engine: Engine, op: Operator, key: SoftKey, *, name: str = "blue key", origin: str | None = None
) -> security_keys.SecurityKey:
    with engine.connect() as conn:
        options, challenge = security_keys.registration_options(conn, RP, operator_id=op.id)
    assert _challenge(options) == challenge
    return security_keys.add_key(
        engine,
        RP,
        now=NOW,
        operator_id=op.id,
        challenge=challenge,
        response=key.register(options, origin=origin),
        name=name,
        actor=f"operator:{op.id}",
    )


def _sign_in(
    engine: Engine, signin: SignIn, op: Operator, key: SoftKey, *, at: timedelta, **answer: object
) -> Operator:
    with engine.connect() as conn:
        found = security_keys.authentication_options(conn, RP, operator_id=op.id)
    assert found is not None
    options, challenge = found
    return signin.check_security_key(
        now=NOW + at,
        operator_id=op.id,
        rp=RP,
        challenge=challenge,
        response=key.sign(options, **answer),  # type: ignore[arg-type]
    )


def _enrolled(
    engine: Engine, kms: KMSProvider, username: str
) -> tuple[Operators, SignIn, Operator]:
    ops, signin = accounts(engine, kms)
    op, _, _ = enrolled(ops, signin, now=NOW, username=username)
    return ops, signin, op


def test_a_key_is_added_then_signs_in(engine: Engine, kms: KMSProvider) -> None:
    _, signin, op = _enrolled(engine, kms, "kim")
    key = SoftKey(ORIGIN)
    added = _add(engine, op, key, name="  blue key\x07 on my keyring ")
    assert added.id.startswith("sk_") and added.name == "blue key on my keyring"
    with engine.connect() as conn:
        listed = security_keys.list_keys(conn, op.id)
        row = conn.execute(select(operator_security_keys)).one()
    assert [k.id for k in listed] == [added.id] and listed[0].last_used_at is None
    assert bytes(row.credential_id) == key.credential_id and row.transports == ["usb"]
    assert row.aaguid == "00000000-0000-0000-0000-000000000000"

    signed = _sign_in(engine, signin, op, key, at=timedelta(minutes=1))
    assert signed.last_login_at == NOW + timedelta(minutes=1) and signed.failed_attempts == 0
    with engine.connect() as conn:
        listed = security_keys.list_keys(conn, op.id)
        count = conn.execute(select(operator_security_keys.c.sign_count)).scalar_one()
        login = conn.execute(
            select(audit_log.c.details)
            .where(audit_log.c.action == "operator.login")
            .order_by(audit_log.c.seq.desc())
        ).first()
    assert listed[0].last_used_at == NOW + timedelta(minutes=1) and count == 1
    assert login is not None and json.loads(login.details)["method"] == "security_key"
    assert ("operator.security_key_add", "success") in actions(engine)


def test_a_card_number_typed_as_a_name_is_never_stored(engine: Engine, kms: KMSProvider) -> None:
    _, _, op = _enrolled(engine, kms, "kit")
    added = _add(engine, op, SoftKey(ORIGIN), name=f"card {CANARY_PAN} cvv {CANARY_CVV}")
    assert added.name.startswith("card ")
    with engine.connect() as conn:
        stored = [
            repr(tuple(r))
            for t in (operator_security_keys, audit_log)
            for r in conn.execute(select(t))
        ]
    assert_no_card_data("\n".join(stored))
    assert f"cvv {CANARY_CVV}" not in "\n".join(stored)


def test_the_options_name_the_keys_and_exclude_registered_ones(
    engine: Engine, kms: KMSProvider
) -> None:
    _, _, op = _enrolled(engine, kms, "lee")
    with engine.connect() as conn:
        assert security_keys.authentication_options(conn, RP, operator_id=op.id) is None
    key = SoftKey(ORIGIN)
    _add(engine, op, key)
    with engine.connect() as conn:
        create, _ = security_keys.registration_options(conn, RP, operator_id=op.id)
        found = security_keys.authentication_options(conn, RP, operator_id=op.id)
    assert found is not None
    options = json.loads(create)
    assert options["rp"] == {"id": "console.example.com", "name": "cardshield console"}
    assert unb64url(options["user"]["id"]) == op.id.encode() and options["user"]["name"] == "lee"
    assert [unb64url(c["id"]) for c in options["excludeCredentials"]] == [key.credential_id]
    assert options["attestation"] == "none"
    get = json.loads(found[0])
    assert get["rpId"] == "console.example.com"
    assert [unb64url(c["id"]) for c in get["allowCredentials"]] == [key.credential_id]
    assert get["allowCredentials"][0]["transports"] == ["usb"]


def test_registration_answers_that_do_not_verify_store_nothing(
    engine: Engine, kms: KMSProvider
) -> None:
    _, _, op = _enrolled(engine, kms, "max")
    with engine.connect() as conn:
        options, challenge = security_keys.registration_options(conn, RP, operator_id=op.id)
    key = SoftKey(ORIGIN)
    bad = {
        "another origin": key.register(options, origin="https://console.example.com.evil.test"),
        "another challenge": SoftKey(ORIGIN).register({**json.loads(options), "challenge": "AAAA"}),
        "not JSON": "{not json",
        "empty object": "{}",
    }
    for why, answer in bad.items():
        with pytest.raises(SecurityKeyRejected, match="could not be verified"):
            security_keys.add_key(
                engine,
                RP,
                now=NOW,
                operator_id=op.id,
                challenge=challenge,
                response=answer,
                name=why,
                actor="test",
            )
    with pytest.raises(SecurityKeyRejected):  # no challenge was open
        security_keys.add_key(
            engine,
            RP,
            now=NOW,
            operator_id=op.id,
            challenge=None,
            response=key.register(options),
            name="x",
            actor="test",
        )
    with engine.connect() as conn:
        assert security_keys.count_keys(conn, op.id) == 0


def test_one_key_registers_once_and_ten_at_most(engine: Engine, kms: KMSProvider) -> None:
    _, _, op = _enrolled(engine, kms, "ned")
    key = SoftKey(ORIGIN)
    _add(engine, op, key)
    with pytest.raises(SecurityKeyRejected, match="registered already"):
        _add(engine, op, key)
    for _ in range(security_keys.MAX_KEYS - 1):
        _add(engine, op, SoftKey(ORIGIN))
    with pytest.raises(TooManySecurityKeys):
        _add(engine, op, SoftKey(ORIGIN))
    with engine.connect() as conn:
        assert security_keys.count_keys(conn, op.id) == security_keys.MAX_KEYS


def test_answers_that_do_not_verify_are_failed_attempts(engine: Engine, kms: KMSProvider) -> None:
    ops, signin, op = _enrolled(engine, kms, "ola")
    other = ops.create(now=NOW, username="pia", password=Secret(PASSWORD), role="operator")
    key = SoftKey(ORIGIN)
    _add(engine, op, key)
    with engine.connect() as conn:
        found = security_keys.authentication_options(conn, RP, operator_id=op.id)
    assert found is not None
    options, challenge = found
    wrong = {
        "wrong challenge": key.sign({**json.loads(options), "challenge": "AAAAAAAA"}),
        "wrong origin": key.sign(options, origin="https://phish.example"),
        "wrong relying party": key.sign(options, rp_id="phish.example"),
        "unknown key": SoftKey(ORIGIN).sign(options),
        "garbage": '{"id": 1}',
        "not JSON": "][",
    }
    for why, answer in wrong.items():
        with pytest.raises(SignInFailed):
            signin.check_security_key(
                now=NOW, operator_id=op.id, rp=RP, challenge=challenge, response=answer
            )
        assert why
    with pytest.raises(SignInFailed):  # no open challenge
        signin.check_security_key(
            now=NOW, operator_id=op.id, rp=RP, challenge=None, response=key.sign(options)
        )
    with pytest.raises(SignInFailed):  # the right answer, for the wrong operator
        signin.check_security_key(
            now=NOW, operator_id=other.id, rp=RP, challenge=challenge, response=key.sign(options)
        )
    with engine.connect() as conn:
        failures = conn.execute(
            select(operators.c.failed_attempts).where(operators.c.id == op.id)
        ).scalar_one()
        details = [
            json.loads(r.details)
            for r in conn.execute(
                select(audit_log.c.details).where(
                    audit_log.c.action == "operator.mfa", audit_log.c.outcome == "failure"
                )
            )
        ]
    assert failures == len(wrong) + 1
    assert all(d["factor"] == "security_key" for d in details)


def test_a_cloned_key_and_a_replayed_answer_are_refused(engine: Engine, kms: KMSProvider) -> None:
    _, signin, op = _enrolled(engine, kms, "quinn")
    key = SoftKey(ORIGIN)
    _add(engine, op, key)
    _sign_in(engine, signin, op, key, at=timedelta(minutes=1))  # count 1
    _sign_in(engine, signin, op, key, at=timedelta(minutes=2))  # count 2
    with pytest.raises(SignInFailed):  # a clone still at count 2
        _sign_in(engine, signin, op, key, at=timedelta(minutes=3), counter=2)
    # The same answer twice: the second finds the count already moved on.
    with engine.connect() as conn:
        found = security_keys.authentication_options(conn, RP, operator_id=op.id)
    assert found is not None
    answer = key.sign(found[0])
    signin.check_security_key(
        now=NOW + timedelta(minutes=4),
        operator_id=op.id,
        rp=RP,
        challenge=found[1],
        response=answer,
    )
    with pytest.raises(SignInFailed):
        signin.check_security_key(
            now=NOW + timedelta(minutes=4),
            operator_id=op.id,
            rp=RP,
            challenge=found[1],
            response=answer,
        )


def test_a_key_without_a_counter_still_works(engine: Engine, kms: KMSProvider) -> None:
    _, signin, op = _enrolled(engine, kms, "ray")
    key = SoftKey(ORIGIN, counts=False)
    _add(engine, op, key)
    for minute in (1, 2):
        _sign_in(engine, signin, op, key, at=timedelta(minutes=minute))


def test_a_locked_account_refuses_a_valid_key(engine: Engine, kms: KMSProvider) -> None:
    _, signin, op = _enrolled(engine, kms, "sam")
    key = SoftKey(ORIGIN)
    _add(engine, op, key)
    with engine.connect() as conn:
        found = security_keys.authentication_options(conn, RP, operator_id=op.id)
    assert found is not None
    for _ in range(MAX_FAILED_ATTEMPTS):
        with pytest.raises(SignInFailed):
            signin.check_security_key(
                now=NOW, operator_id=op.id, rp=RP, challenge=b"x" * 32, response=key.sign(found[0])
            )
    with pytest.raises(SignInFailed):
        _sign_in(engine, signin, op, key, at=timedelta(minutes=1))
    assert ("operator.lockout", "success") in actions(engine)


@pytest.fixture
def mfa_changes() -> Iterator[list[str]]:
    """The ``change`` of every mfa_changed security event emitted during the test."""
    seen: list[str] = []

    def listener(name: str, fields: dict[str, object]) -> None:
        if name == events.MFA_CHANGED:
            seen.append(str(fields["change"]))

    events.subscribe(listener)
    yield seen
    events.unsubscribe(listener)


def test_removed_keys_and_reset_mfa(
    engine: Engine, kms: KMSProvider, mfa_changes: list[str]
) -> None:
    ops, signin, op = _enrolled(engine, kms, "tao")
    _, _, other = _enrolled(engine, kms, "uma")
    first, second = SoftKey(ORIGIN), SoftKey(ORIGIN)
    one = _add(engine, op, first)
    _add(engine, op, second)
    with pytest.raises(SecurityKeyNotFound):  # not theirs
        security_keys.remove_key(engine, now=NOW, operator_id=other.id, key_id=one.id, actor="x")
    security_keys.remove_key(engine, now=NOW, operator_id=op.id, key_id=one.id, actor="x")
    with pytest.raises(SecurityKeyNotFound):
        security_keys.remove_key(engine, now=NOW, operator_id=op.id, key_id=one.id, actor="x")
    with pytest.raises(SignInFailed):
        _sign_in(engine, signin, op, first, at=timedelta(minutes=1))
    _sign_in(engine, signin, op, second, at=timedelta(minutes=2))
    assert ("operator.security_key_remove", "success") in actions(engine)
    ops.reset_mfa(now=NOW, operator_id=op.id, actor="admin")
    with engine.connect() as conn:
        assert security_keys.count_keys(conn, op.id) == 0
    # Each change is a security event for the SIEM, not only an audit entry.
    assert mfa_changes == [
        "security_key_added",
        "security_key_added",
        "security_key_removed",
        "reset",
    ]
    challenge = b"c" * 32
    answer = second.sign({"rpId": RP.id, "challenge": b64url(challenge)})
    with pytest.raises(SignInFailed):  # the key is forgotten, and without TOTP no second step
        signin.check_security_key(
            now=NOW, operator_id=op.id, rp=RP, challenge=challenge, response=answer
        )


def test_a_session_challenge_is_taken_once_and_expires(engine: Engine, kms: KMSProvider) -> None:
    _, _, op = _enrolled(engine, kms, "val")
    with engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op.id, stage="mfa")
        session = sessions.load(conn, token.reveal(), now=NOW)
        assert session is not None
        assert sessions.take_challenge(conn, session, now=NOW) is None
        sessions.set_challenge(conn, session, b"one" * 11, now=NOW)
        sessions.set_challenge(conn, session, b"two" * 11, now=NOW)  # replaces the first
        assert sessions.take_challenge(conn, session, now=NOW) == b"two" * 11
        assert sessions.take_challenge(conn, session, now=NOW) is None
        sessions.set_challenge(conn, session, b"old" * 11, now=NOW)
        late = NOW + sessions.CHALLENGE_LIFETIME
        assert sessions.take_challenge(conn, session, now=late) is None
        assert sessions.take_challenge(conn, session, now=NOW) is None  # taken even so
