"""A whole agent-assisted call over Twilio Media Streams: a test client plays espeak-ng speech
and the caller keying the card (expiry and number as in-band DTMF, the security code as
``dtmf`` messages) over the WebSocket, while an agent watches the masked view on the agent
screen's socket and charges through the sandbox."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from cardshield.compliance.report.flows import captured_logs
from cardshield.crypto import Secret
from cardshield.phone.calls import phone_calls
from cardshield.phone.dsp import g711, talkoff
from cardshield.phone.dsp.generator import generate
from cardshield.phone.dsp.goertzel.detector import detect
from cardshield.phone.dsp.masker import LATENCY_SAMPLES
from cardshield.phone.twilio_signature import sign
from cardshield.security import sessions
from cardshield.security.permissions import Role
from cardshield.storage.schema import payments
from cardshield.web.console.services import ConsoleServices
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import sqlite_database
from tests.unit.phone.conftest import multimon_hears, require_tool
from tests.unit.phone.ivr.harness import AUTH_TOKEN, NOW, Phone, phone_world
from tests.unit.security.operator_support import FAST_HASHER, PASSWORD

MEDIA_URL = "ws://testserver/phone/twilio/media"
CALL = "CA" + "7" * 32
FRAME = 160  # 20 ms of 8 kHz mu-law, as Twilio sends


@pytest.fixture
def phone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    yield from phone_world(sqlite_database(tmp_path), caplog)


def agent_session(phone: Phone, role: Role = Role.AGENT) -> tuple[str, str]:
    services = ConsoleServices.build(phone.runtime, hasher=FAST_HASHER)
    op = services.accounts.create(
        now=NOW,
        username=f"phone-{role.value}",
        password=Secret(PASSWORD),
        role=role,
        merchant_id=None,
        actor="test",
    )
    with phone.runtime.engine.begin() as conn:
        token = sessions.start(conn, now=NOW, operator_id=op.id, stage="active")
        live = sessions.load(conn, token.reveal(), now=NOW)
    assert live is not None
    return token.reveal(), live.csrf_token


def keyed(digits: str) -> NDArray[np.int16]:
    return generate(digits, on_ms=90, off_ms=110, level_dbm0=-8).pcm16()


def speech(tmp_path: Path) -> list[NDArray[np.int16]]:
    require_tool("espeak-ng")
    require_tool("sox")
    return list(talkoff.speech_clips(tmp_path, count=2, seed=5))


def media(codes: NDArray[np.uint8], n: int) -> dict[str, Any]:
    payload = base64.b64encode(codes.tobytes()).decode()
    return {
        "event": "media",
        "sequenceNumber": str(n),
        "streamSid": "MZ1",
        "media": {
            "track": "inbound",
            "chunk": str(n),
            "timestamp": str(n * 20),
            "payload": payload,
        },
    }


def phone_call_state(phone: Phone) -> Any:
    from cardshield.phone.calls import CallStore

    return CallStore(phone.runtime.engine).get(CALL)


def open_agent(phone: Phone, token: str, csrf: str) -> Any:
    phone.client.cookies.set("__Host-cardshield_session", token)
    return phone.client.websocket_connect(
        f"/console/phone/live/{CALL}?csrf={csrf}", headers={"Origin": "http://testserver"}
    )


def until(agent: Any, done: Any) -> dict[str, Any]:
    for _ in range(200):
        view: dict[str, Any] = json.loads(agent.receive_text())
        assert view.get("type") != "error", view
        if done(view):
            return view
    raise AssertionError("the agent view never got there")


def test_a_whole_call_is_masked_captured_and_charged(
    phone: Phone, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    multimon = require_tool("multimon-ng")
    talk = speech(tmp_path)
    token, csrf = agent_session(phone)
    agent_messages: list[str] = []
    # The process's own logging configuration (redacting, JSON) writes the test's log capture:
    # pytest's capture can be left empty by another test's logging setup.
    with captured_logs() as logs, open_agent(phone, token, csrf) as agent:
        agent.send_text(json.dumps({"action": "start"}))
        view = until(agent, lambda v: v.get("step") == "expiry")
        agent_messages.append(json.dumps(view))
        audio = np.concatenate(
            [talk[0], keyed("1230#"), keyed(CANARY_PAN + "#"), np.zeros(8000, np.int16), talk[1]]
        )
        codes = g711.encode(audio, "mulaw")
        oob_at = len(talk[0]) + len(keyed("1230#")) + len(keyed(CANARY_PAN + "#")) + 4000
        returned: list[bytes] = []
        sent: list[str] = []
        headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
        with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws:
            start = {
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": "MZ1",
                "start": {
                    "streamSid": "MZ1",
                    "callSid": CALL,
                    "tracks": ["inbound"],
                    "customParameters": {},
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
            for message in ({"event": "connected", "protocol": "Call", "version": "1.0.0"}, start):
                ws.send_text(json.dumps(message))
            for n, i in enumerate(range(0, len(codes) - FRAME + 1, FRAME)):
                if i == oob_at - oob_at % FRAME:
                    for digit in CANARY_CVV + "#":
                        msg = {"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": digit}}
                        ws.send_text(json.dumps(msg))
                ws.send_text(json.dumps(media(codes[i : i + FRAME], n)))
                reply = ws.receive_text()
                sent.append(reply)
                out = json.loads(reply)
                assert out["event"] == "media" and out["streamSid"] == "MZ1"
                returned.append(base64.b64decode(out["media"]["payload"]))
            ws.send_text(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}}))
            assert json.loads(ws.receive_text())["mark"]["name"] == "m1"
            ws.send_text(json.dumps({"event": "stop", "streamSid": "MZ1"}))
            tail = json.loads(ws.receive_text())
            returned.append(base64.b64decode(tail["media"]["payload"]))
        state = phone_call_state(phone)
        assert state.step == "ready", (state.step, state.fields)
        ready = until(agent, lambda v: v.get("ready"))
        agent_messages.append(json.dumps(ready))
        card = ready["fields"]["card"]
        assert card["display"] == "\u2022\u2022\u2022\u2022 " * 3 + CANARY_PAN[-4:]
        assert card["brand"] == "visa" and card["status"] == "valid"
        assert {f: v["status"] for f, v in ready["fields"].items()} == dict.fromkeys(
            ("expiry", "card", "cvc"), "valid"
        )
        agent.send_text(json.dumps({"action": "charge", "amount": 2599, "currency": "EUR"}))
        done = until(agent, lambda v: v.get("outcome") is not None)
        agent_messages.append(json.dumps(done))
        assert done["outcome"] == "approved"
    with phone.runtime.engine.connect() as conn:
        row = conn.execute(select(phone_calls).where(phone_calls.c.call_sid == CALL)).one()
        charged = conn.execute(select(payments).where(payments.c.id == row.payment_id)).one()
    assert (charged.status, charged.amount, charged.card_last4) == ("captured", 2599, "4242")

    # Toward the agent: no digit the project's detector or multimon-ng can hear...
    out_codes = np.frombuffer(b"".join(returned), np.uint8)
    assert out_codes.size == codes.size - codes.size % FRAME + LATENCY_SAMPLES  # + the flush
    masked = g711.decode(out_codes, "mulaw").astype(np.float64)
    assert detect(masked) == []
    assert len(detect(g711.decode(codes, "mulaw"))) >= 20  # the input was full of digits
    heard = multimon_hears(multimon, masked)
    assert "DTMF" not in heard
    # ...while speech passes unchanged (after the masker's fixed delay).
    n = len(talk[0]) - 800
    lag = next(d for d in range(0, 2000) if np.array_equal(out_codes[d : d + 400], codes[:400]))
    assert np.mean(out_codes[lag : lag + n] == codes[:n]) > 0.99
    assert np.std(g711.decode(out_codes[lag : lag + n], "mulaw")) > 100

    # Canary: nowhere outside the vault.
    # (audio payloads are base64 noise: the digits in them are checked above by ear)
    headers_only = [json.dumps({**json.loads(m), "media": None}) for m in sent]
    log_text = logs.getvalue() + caplog.text
    assert "phone.stream.stop" in log_text  # the call really was logged
    for text in (*agent_messages, *headers_only, log_text, repr(row)):
        assert_no_card_data(text)
        assert_no_cvv(text.replace(f'"version": {CANARY_CVV}', ""), CANARY_CVV)
    for message in sent:
        assert_no_card_data(message)


def refused(phone: Phone, url: str, headers: dict[str, str]) -> bool:
    """Whether the server closes the socket during the handshake."""
    try:
        with phone.client.websocket_connect(url, headers=headers) as ws:
            ws.receive_text()
    except WebSocketDisconnect:
        return True
    return False


def test_media_socket_needs_twilio_signature(phone: Phone) -> None:
    assert refused(phone, "/phone/twilio/media", {})
    bad = {"X-Twilio-Signature": sign("another-token", MEDIA_URL, {})}
    assert refused(phone, "/phone/twilio/media", bad)


def test_agent_socket_needs_the_agent_permission_origin_and_csrf(phone: Phone) -> None:
    origin = {"Origin": "http://testserver"}
    token, csrf = agent_session(phone, Role.AUDITOR)
    phone.client.cookies.set("__Host-cardshield_session", token)
    assert refused(phone, f"/console/phone/live/{CALL}?csrf={csrf}", origin)
    token, csrf = agent_session(phone, Role.AGENT)
    phone.client.cookies.set("__Host-cardshield_session", token)
    assert refused(phone, f"/console/phone/live/{CALL}?csrf=wrong", origin)
    evil = {"Origin": "https://evil.example"}
    assert refused(phone, f"/console/phone/live/{CALL}?csrf={csrf}", evil)
    with open_agent(phone, token, csrf) as ws:
        ws.send_text(json.dumps({"action": "start"}))
        assert until(ws, lambda v: v.get("step") == "expiry")["fields"]["card"]["display"] == ""


def closed_with(ws: Any) -> int:
    """Read until the server closes the socket; the close code."""
    try:
        for _ in range(500):
            ws.receive_text()
    except WebSocketDisconnect as closed:
        return int(closed.code)
    raise AssertionError("the socket stayed open")


def _end_sessions(phone: Phone, token: str) -> None:
    with phone.runtime.engine.begin() as conn:
        live = sessions.load(conn, token, now=NOW)
        assert live is not None
        assert sessions.end_all(conn, live.operator.id) >= 1


def test_an_action_after_the_session_ended_closes_the_socket(phone: Phone) -> None:
    """Signed out elsewhere (or disabled, or a role change): the open socket may not act."""
    token, csrf = agent_session(phone)
    with open_agent(phone, token, csrf) as ws:
        ws.send_text(json.dumps({"action": "start"}))
        until(ws, lambda v: v.get("step") == "expiry")
        _end_sessions(phone, token)
        ws.send_text(json.dumps({"action": "cancel"}))
        assert closed_with(ws) == 1008
    assert phone_call_state(phone).step == "expiry"  # the cancel was not carried out


def test_a_watching_socket_closes_soon_after_the_session_ended(
    phone: Phone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardshield.web.console.pages import phone as agent_screen

    monkeypatch.setattr(agent_screen, "SESSION_CHECK_S", 0.05)
    token, csrf = agent_session(phone)
    with open_agent(phone, token, csrf) as ws:
        ws.send_text(json.dumps({"action": "start"}))
        until(ws, lambda v: v.get("step") == "expiry")
        _end_sessions(phone, token)
        assert closed_with(ws) == 1008
