"""Agent-assisted capture without a transport: the keypad fed digit by digit (as any
transport feeds it) and the agent's actions, against a real database, vault and sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cardshield.phone.agent.control import CaptureNotReady, MerchantScope
from cardshield.phone.agent.service import agent_control, keypad
from cardshield.phone.agent.view import masked_view
from cardshield.phone.calls import CallStore
from cardshield.phone.errors import CallNotFound
from cardshield.storage.schema import audit_log
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import sqlite_database
from tests.unit.phone.ivr.harness import NOW, Phone, phone_world

CALL = "CA" + "3" * 32
ALL = MerchantScope(None)  # an operator not limited to a merchant


@pytest.fixture
def phone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    yield from phone_world(sqlite_database(tmp_path), caplog)


def key(pad: object, digits: str) -> None:
    for d in digits:
        pad.press(CALL, d)  # type: ignore[attr-defined]


def test_masked_progress_rerequest_cancel_and_charge(
    phone: Phone, caplog: pytest.LogCaptureFixture
) -> None:
    control = agent_control(phone.runtime)
    pad = keypad(phone.runtime, lambda: NOW)
    store = CallStore(phone.runtime.engine)
    key(pad, "1230#")  # before capture starts: dropped
    control.start(CALL, phone.merchant, now=NOW, actor="test")
    assert store.get(CALL).fields == {}
    key(pad, "1230#")
    key(pad, CANARY_PAN[:7])
    view = masked_view(store.get(CALL))
    assert view["fields"]["card"] == {"status": "keying", "keyed": 7, "display": "•••• •••"}
    key(pad, "*")  # the caller starts the number again
    key(pad, CANARY_PAN + "#")
    view = masked_view(store.get(CALL))
    assert view["fields"]["card"]["display"] == "•••• •••• •••• 4242"
    assert view["fields"]["card"]["brand"] == "visa" and view["step"] == "cvc"
    key(pad, "12#")  # too short for Visa
    assert masked_view(store.get(CALL))["fields"]["cvc"]["status"] == "invalid"
    with pytest.raises(CaptureNotReady):
        control.charge(CALL, scope=ALL, amount=500, currency="EUR", now=NOW, actor="test")
    # The agent asks for the card again: the token and the code go, the expiry stays.
    control.rerequest(CALL, "card", scope=ALL, now=NOW)
    state = store.get(CALL)
    assert (state.step, state.token, state.fields) == ("card", None, {"expiry": "valid"})
    key(pad, CANARY_PAN + "#" + CANARY_CVV + "#")
    assert masked_view(store.get(CALL))["ready"] is True
    done = control.charge(CALL, scope=ALL, amount=500, currency="eur", now=NOW, actor="test")
    assert (done.outcome, done.currency, done.step) == ("approved", "EUR", "done")
    with phone.runtime.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
    assert [a for a in actions if a.startswith("phone.")] == [
        "phone.capture.start",
        "phone.capture.rerequest_card",
        "phone.capture.charge",
    ]
    key(pad, "9999#")  # after the charge: nothing changes
    assert store.get(CALL).version == done.version
    blob = repr(store.get(CALL)) + caplog.text + repr(masked_view(store.get(CALL)))
    assert_no_card_data(blob)
    assert_no_cvv(caplog.text, CANARY_CVV)


def test_cancel_stops_capture(phone: Phone) -> None:
    control = agent_control(phone.runtime)
    pad = keypad(phone.runtime, lambda: NOW)
    control.start(CALL, phone.merchant, now=NOW, actor="test")
    key(pad, "1230#")
    control.cancel(CALL, scope=ALL, now=NOW)
    key(pad, CANARY_PAN + "#")
    state = CallStore(phone.runtime.engine).get(CALL)
    assert (state.step, state.outcome, state.token) == ("cancelled", "cancelled", None)


def test_another_merchants_call_is_answered_as_a_call_that_does_not_exist(phone: Phone) -> None:
    """An agent limited to one merchant: every action on another merchant's call fails as
    for an unknown call, and leaves the call as it was; its own merchant's calls work."""
    control = agent_control(phone.runtime)
    pad = keypad(phone.runtime, lambda: NOW)
    store = CallStore(phone.runtime.engine)
    other = phone.runtime.vault.create_merchant("other phone shop", now=NOW)
    intruder = MerchantScope(other)
    control.start(CALL, phone.merchant, now=NOW, actor="owner")
    key(pad, "1230#" + CANARY_PAN + "#" + CANARY_CVV + "#")
    ready = store.get(CALL)
    assert ready.step == "ready"
    unknown = "CA" + "9" * 32
    attempts = [
        lambda call: control.start(call, other, scope=intruder, now=NOW, actor="intruder"),
        lambda call: control.cancel(call, scope=intruder, now=NOW, actor="intruder"),
        lambda call: control.rerequest(call, "card", scope=intruder, now=NOW, actor="intruder"),
        lambda call: control.charge(
            call, scope=intruder, amount=500, currency="EUR", now=NOW, actor="intruder"
        ),
    ]
    for attempt in attempts[1:]:  # as for a call that does not exist (start creates one)
        with pytest.raises(CallNotFound):
            attempt(unknown)
    for attempt in attempts:
        with pytest.raises(CallNotFound):
            attempt(CALL)
    assert store.get(CALL) == ready
    assert control.find(CALL, intruder) is None
    # A merchant's scope never creates a call for another merchant either.
    with pytest.raises(CallNotFound):
        control.start(unknown, phone.merchant, scope=intruder, now=NOW, actor="intruder")
    assert store.find(unknown) is None
    own = MerchantScope(phone.merchant)
    assert control.find(CALL, own) == ready
    done = control.charge(CALL, scope=own, amount=500, currency="EUR", now=NOW, actor="owner")
    assert done.outcome == "approved"
    with phone.runtime.engine.connect() as conn:
        actors = {r.actor for r in conn.execute(select(audit_log))}
    assert "intruder" not in actors
