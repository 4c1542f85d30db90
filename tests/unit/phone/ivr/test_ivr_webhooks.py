"""The secure IVR driven as Twilio drives it: every webhook signed with the ``twilio``
package's RequestValidator, TwiML parsed from each answer, the recording controlled through a
local stand-in of the Recordings API, payments through the sandbox processor."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cardshield.cards import TEST_CARDS, Outcome
from cardshield.phone.calls import phone_calls
from cardshield.storage.schema import payments
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import postgres_database, sqlite_database
from tests.unit.phone.ivr.harness import ACCOUNT_SID, Phone, phone_world

CARD_STEPS = ("expiry", "card", "cvc")


@pytest.fixture
def phone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    yield from phone_world(sqlite_database(tmp_path), caplog)


@pytest.fixture
def pg_phone(caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    for url in postgres_database():
        yield from phone_world(url, caplog)


def gather(response_text: str) -> ET.Element | None:
    return ET.fromstring(response_text).find("Gather")


def next_step(response_text: str) -> str | None:
    g = gather(response_text)
    return None if g is None else g.attrib["action"].rsplit("/", 1)[-1]


def said(response_text: str) -> str:
    return " ".join(e.text or "" for e in ET.fromstring(response_text).iter("Say"))


def call_row(phone: Phone, call: str) -> dict[str, object]:
    with phone.runtime.engine.connect() as conn:
        row = conn.execute(select(phone_calls).where(phone_calls.c.call_sid == call)).one()
    return dict(row._mapping)


def answer(phone: Phone, call: str) -> str:
    r = phone.post("/phone/twilio/voice?amount=1050&currency=EUR", {"CallSid": call})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert next_step(r.text) == "confirm"
    assert "10.50 EUR" in said(r.text)
    return r.text


def pay(phone: Phone, call: str, pan: str = CANARY_PAN) -> str:
    answer(phone, call)
    assert next_step(phone.key(call, "confirm", "1").text) == "expiry"
    assert next_step(phone.key(call, "expiry", "1230").text) == "card"
    assert next_step(phone.key(call, "card", pan).text) == "cvc"
    assert next_step(phone.key(call, "cvc", CANARY_CVV).text) == "postal"
    return phone.key(call, "postal", "10115").text


def assert_clean(phone: Phone, caplog: pytest.LogCaptureFixture) -> None:
    """The canary PAN and CVV appear in no TwiML, log line or phone_calls row."""
    for body in phone.bodies:
        assert_no_card_data(body)
        assert_no_cvv(body, CANARY_CVV)
    assert_no_card_data(caplog.text)
    assert_no_cvv(caplog.text, CANARY_CVV)
    with phone.runtime.engine.connect() as conn:
        rows = repr(list(conn.execute(select(phone_calls))))
    assert_no_card_data(rows)
    if phone.database_url.startswith("sqlite:///"):  # the database file's raw bytes too
        assert_no_card_data(Path(phone.database_url.removeprefix("sqlite:///")).read_bytes())
    assert_no_cvv(rows, CANARY_CVV)


def test_full_payment_pauses_recording_before_card_digits(
    pg_phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    phone = pg_phone
    call = "CA" + "a" * 32
    result = pay(phone, call)
    assert "approved" in said(result)
    assert ET.fromstring(result).find("Hangup") is not None
    row = call_row(phone, call)
    assert row["outcome"] == "approved" and row["step"] == "done"
    assert row["brand"] == "visa" and row["last4"] == "4242"
    assert row["fields"] == {"expiry": "valid", "card": "valid", "cvc": "valid", "postal": "valid"}
    with phone.runtime.engine.connect() as conn:
        pay_row = conn.execute(select(payments).where(payments.c.id == row["payment_id"])).one()
    assert (pay_row.status, pay_row.amount, pay_row.currency) == ("captured", 1050, "EUR")
    # Recording: paused before the first card field was posted, resumed after the last.
    t = phone.timeline
    paused = t.index(("recording", "paused"))
    resumed = t.index(("recording", "in-progress"))
    first_card = t.index(("webhook", "/phone/twilio/ivr/expiry"))
    last_card = t.index(("webhook", "/phone/twilio/ivr/cvc"))
    assert paused < first_card < last_card < resumed
    paths = [p for p, _ in phone.recordings.updates]
    want = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call}/Recordings/Twilio.CURRENT.json"
    assert paths == [want, want]
    assert phone.recordings.updates[0][1] == {"Status": "paused", "PauseBehavior": "skip"}
    # The single-use token was consumed by the charge; nothing identifies the card but it.
    assert row["token"] and str(row["token"]).startswith("tok_")
    assert_clean(phone, caplog)


def test_invalid_then_valid_card(phone: Phone, caplog: pytest.LogCaptureFixture) -> None:
    call = "CA" + "b" * 32
    answer(phone, call)
    phone.key(call, "confirm", "1")
    phone.key(call, "expiry", "1230")
    bad_luhn = CANARY_PAN[:-1] + str((int(CANARY_PAN[-1]) + 1) % 10)
    r = phone.key(call, "card", bad_luhn)
    assert next_step(r.text) == "card" and "not valid" in said(r.text)
    assert call_row(phone, call)["fields"] == {"expiry": "valid", "card": "invalid"}
    r = phone.key(call, "card", "1234")
    assert next_step(r.text) == "card"
    r = phone.key(call, "card", CANARY_PAN)
    assert next_step(r.text) == "cvc"
    r = phone.key(call, "cvc", "12")  # Visa codes have three digits
    assert next_step(r.text) == "cvc" and "security code is not valid" in said(r.text)
    phone.key(call, "cvc", CANARY_CVV)
    assert "approved" in said(phone.key(call, "postal", "").text)
    assert_no_card_data(caplog.text, pans=(CANARY_PAN, bad_luhn))
    assert_clean(phone, caplog)


def test_expired_card_is_asked_again_then_ends_after_max_attempts(
    phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    call = "CA" + "c" * 32
    answer(phone, call)
    phone.key(call, "confirm", "1")
    for _ in range(2):
        r = phone.key(call, "expiry", "0125")
        assert next_step(r.text) == "expiry" and "expired" in said(r.text)
    r = phone.key(call, "expiry", "0125")
    assert gather(r.text) is None and "Too many attempts" in said(r.text)
    row = call_row(phone, call)
    assert row["outcome"] == "too_many_attempts" and row["token"] is None
    assert row["recording_paused"] is False
    assert [s for k, s in phone.timeline if k == "recording"] == ["paused", "in-progress"]


def test_star_cancels_and_resumes_recording(phone: Phone, caplog: pytest.LogCaptureFixture) -> None:
    call = "CA" + "d" * 32
    answer(phone, call)
    phone.key(call, "confirm", "1")
    phone.key(call, "expiry", "1230")
    r = phone.key(call, "card", "4242*")
    assert "cancelled" in said(r.text) and ET.fromstring(r.text).find("Hangup") is not None
    row = call_row(phone, call)
    assert row["outcome"] == "cancelled" and row["token"] is None
    assert [s for k, s in phone.timeline if k == "recording"] == ["paused", "in-progress"]
    # A late webhook for the ended call only says goodbye.
    assert gather(phone.key(call, "card", CANARY_PAN).text) is None
    assert_clean(phone, caplog)


def test_timeouts_reprompt_then_hang_up(phone: Phone) -> None:
    call = "CA" + "e" * 32
    answer(phone, call)
    r = phone.key(call, "confirm", "")
    assert next_step(r.text) == "confirm" and "did not receive" in said(r.text)
    phone.key(call, "confirm", "1")
    phone.key(call, "expiry", "")
    phone.key(call, "expiry", "")
    r = phone.key(call, "expiry", "")
    assert gather(r.text) is None
    assert call_row(phone, call)["outcome"] == "too_many_attempts"


def test_gather_is_dtmf_only_with_hash_and_no_digits_in_twiml(phone: Phone) -> None:
    call = "CA" + "f" * 32
    answer(phone, call)
    r = phone.key(call, "confirm", "1")
    g = gather(r.text)
    assert g is not None
    assert g.attrib["input"] == "dtmf" and g.attrib["finishOnKey"] == "#"
    assert g.attrib["actionOnEmptyResult"] == "true" and g.attrib["numDigits"] == "4"
    r = phone.key(call, "expiry", "1230")
    r2 = phone.key(call, "card", CANARY_PAN)
    assert "1230" not in r2.text and "4242" not in r2.text and "1230" not in r.text


def test_bad_signature_is_refused(phone: Phone) -> None:
    call = "CA" + "9" * 32
    r = phone.post("/phone/twilio/voice", {"CallSid": call}, signature="bm90IGEgc2lnbmF0dXJl")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "twilio_signature_invalid"
    r = phone.client.post("/phone/twilio/voice", data={"CallSid": call})
    assert r.status_code == 403
    answer(phone, call)
    # A valid signature for other parameters does not carry over (Digits tampered).
    from cardshield.phone.twilio_signature import sign

    good = sign(
        "twilio-test-auth-token-0123456789",
        "http://testserver/phone/twilio/ivr/confirm",
        {"CallSid": call, "Digits": "2"},
    )
    r = phone.post("/phone/twilio/ivr/confirm", {"CallSid": call, "Digits": "1"}, signature=good)
    assert r.status_code == 403
    assert call_row(phone, call)["step"] == "confirm"
    assert phone.recordings.updates == []


def test_declined_card_gets_a_clear_ending(phone: Phone, caplog: pytest.LogCaptureFixture) -> None:
    call = "CA" + "8" * 32
    decline = next(c.number for c in TEST_CARDS if c.outcome is Outcome.GENERIC_DECLINE)
    result = pay(phone, call, pan=decline)
    assert "declined" in said(result) and ET.fromstring(result).find("Hangup") is not None
    row = call_row(phone, call)
    assert row["outcome"] == "declined" and row["recording_paused"] is False
    assert_no_card_data(caplog.text, pans=(decline,))


def test_the_amount_is_read_in_the_currency_minor_unit_and_checked_at_answer(
    phone: Phone,
) -> None:
    yen = phone.post("/phone/twilio/voice?amount=1050&currency=jpy", {"CallSid": "CA" + "1" * 32})
    assert yen.status_code == 200 and "pay 1050 JPY." in said(yen.text)
    dinar = phone.post("/phone/twilio/voice?amount=1050&currency=KWD", {"CallSid": "CA" + "2" * 32})
    assert "pay 1.050 KWD." in said(dinar.text)
    # Refused before the caller keys anything (not at the charge), and no call is kept.
    bad = phone.post("/phone/twilio/voice?amount=1050&currency=XYZ", {"CallSid": "CA" + "3" * 32})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_currency"
    with phone.runtime.engine.connect() as conn:
        kept = conn.execute(select(phone_calls.c.call_sid)).scalars().all()
    assert "CA" + "3" * 32 not in kept
