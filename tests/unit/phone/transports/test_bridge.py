"""The bridge between the caller's stream and the agent's stream: the hubs (in process, and
Redis as two nodes would use it), the bridge parameters, the TwiML that connects each call,
and a whole bridged call over the media socket: the agent's stream carries the caller's
speech with every keyed digit masked, the caller's stream carries the agent's voice, and
the card the caller keyed is captured and charged."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
import redis
from starlette.websockets import WebSocketDisconnect

from cardshield.compliance.report.flows import captured_logs
from cardshield.phone.dsp import g711
from cardshield.phone.dsp.goertzel.detector import detect
from cardshield.phone.dsp.masker import LATENCY_SAMPLES
from cardshield.phone.transports.bridge import (
    OWNER_TTL_S,
    BadBridge,
    BridgeHub,
    Leg,
    LegTaken,
    LocalHub,
    RedisHub,
    inbound_payload,
    leg_of,
)
from cardshield.phone.twilio_signature import sign
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.databases import require_redis, sqlite_database
from tests.unit.phone.conftest import multimon_hears, require_tool
from tests.unit.phone.ivr.harness import AUTH_TOKEN, NOW, Phone, phone_world
from tests.unit.phone.transports.test_media_streams import (
    CALL,
    FRAME,
    MEDIA_URL,
    agent_session,
    keyed,
    media,
    open_agent,
    speech,
    until,
)

B64 = base64.b64encode(b"\xff" * FRAME).decode()


# ---- bridge parameters --------------------------------------------------------------------


def test_a_stream_without_bridge_parameters_is_unpaired() -> None:
    assert leg_of({}) is None
    assert leg_of({"other": "x"}) is None
    assert leg_of({"leg": "agent", "bridge": CALL}) == Leg(CALL, "agent")
    assert Leg(CALL, "agent").other == "caller" and Leg(CALL, "caller").other == "agent"


@pytest.mark.parametrize(
    ("custom", "param"),
    [
        ({"leg": "caller"}, "bridge"),
        ({"bridge": CALL}, "leg"),
        ({"leg": "listener", "bridge": CALL}, "leg"),
        ({"leg": "agent", "bridge": "CA 1"}, "bridge"),
        ({"leg": "agent", "bridge": "x" * 65}, "bridge"),
        ({"leg": "agent", "bridge": ""}, "bridge"),
    ],
)
def test_half_or_malformed_bridge_parameters_are_refused(
    custom: dict[str, str], param: str
) -> None:
    with pytest.raises(BadBridge) as raised:
        leg_of(custom)
    assert raised.value.param == param


def test_only_checked_inbound_audio_is_relayed() -> None:
    def message(**media: Any) -> dict[str, Any]:
        return {"event": "media", "media": {"track": "inbound", "payload": B64, **media}}

    assert inbound_payload(message()) == B64
    assert inbound_payload(message(track="outbound")) is None
    assert inbound_payload(message(payload="not base64!")) is None
    assert inbound_payload(message(payload="")) is None
    assert inbound_payload(message(payload="QUFB" * 5000)) is None  # over 16 KiB
    assert inbound_payload({"event": "dtmf", "dtmf": {"digit": "4"}}) is None
    assert inbound_payload({"event": "media", "media": "x"}) is None


# ---- hubs ---------------------------------------------------------------------------------


async def _relays_both_ways(first: BridgeHub, second: BridgeHub, bridge: str) -> None:
    caller, agent = Leg(bridge, "caller"), Leg(bridge, "agent")
    async with first.join(caller) as c, second.join(agent) as a:
        await c.send("Y2FsbGVy")
        assert await asyncio.wait_for(a.receive(), 5) == "Y2FsbGVy"
        await a.send("YWdlbnQ=")
        assert await asyncio.wait_for(c.receive(), 5) == "YWdlbnQ="
        # Each side is held once: a second stream naming it is refused, on either hub.
        for hub in (first, second):
            with pytest.raises(LegTaken):
                async with hub.join(agent):
                    pass
        # Nothing comes back to the sender: a side hears only the other side.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.receive(), 0.3)
    # Once the stream has ended, its side can be taken again (a reconnecting stream).
    async with second.join(agent), first.join(caller):
        pass


def test_the_in_process_hub_relays_between_the_two_sides_only() -> None:
    hub = LocalHub()
    asyncio.run(_relays_both_ways(hub, hub, "CA" + uuid.uuid4().hex))


def test_audio_for_a_side_nobody_holds_is_dropped_and_a_stalled_side_drops_the_excess() -> None:
    async def run() -> None:
        hub = LocalHub()
        caller, agent = Leg("CAx", "caller"), Leg("CAx", "agent")
        async with hub.join(caller) as c:
            await c.send("ZHJvcHBlZA==")  # the agent has not connected yet
            async with hub.join(agent) as a:
                for n in range(300):
                    await c.send(base64.b64encode(str(n).encode()).decode())
                await asyncio.sleep(0.05)
                got = [base64.b64decode(await a.receive()).decode() for _ in range(250)]
                assert got == [str(n) for n in range(250)]  # the oldest 5 s, then drops
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(a.receive(), 0.2)

    asyncio.run(run())


def test_the_redis_hub_relays_between_two_nodes_and_claims_each_side_once() -> None:
    url = require_redis()
    bridge = "CA" + uuid.uuid4().hex
    owner = f"cardshield:bridge:{bridge}:agent:owner"
    client = redis.Redis.from_url(url)

    async def run() -> None:
        node_a, node_b = RedisHub(url), RedisHub(url)
        await _relays_both_ways(node_a, node_b, bridge)
        async with node_b.join(Leg(bridge, "agent")):
            # The claim lapses on its own if the node holding it dies.
            assert 0 < client.ttl(owner) <= OWNER_TTL_S
        assert client.exists(owner) == 0  # given up when the stream ended

    asyncio.run(run())


# ---- TwiML --------------------------------------------------------------------------------


@pytest.fixture
def phone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    yield from phone_world(sqlite_database(tmp_path), caplog)


def _connect(phone: Phone, query: str, call_sid: str = CALL) -> Any:
    url = f"http://testserver/phone/twilio/connect{query}"
    form = {"CallSid": call_sid}
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)}
    return phone.client.post(url, data=form, headers=headers)


def _stream(twiml: str) -> tuple[str, dict[str, str]]:
    (stream,) = ElementTree.fromstring(twiml).iter("Stream")
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.iter("Parameter")}
    return stream.attrib["url"], params


AGENT_CALL = "CA" + "9" * 32


def _placed(phone: Phone, leg: str, call_sid: str, bridge: str = CALL) -> dict[str, str]:
    """The ``<Parameter>``s cardshield's TwiML gives the stream of ``call_sid`` as ``leg``:
    what Twilio sends back in that stream's ``start`` message as ``customParameters``."""
    query = "" if leg == "caller" else f"?leg={leg}&bridge={bridge}"
    response = _connect(phone, query, call_sid=call_sid)
    assert response.status_code == 200, response.text
    return _stream(response.text)[1]


def test_connect_answers_each_call_with_its_leg_of_the_bridge(phone: Phone) -> None:
    caller = _connect(phone, "")
    assert caller.status_code == 200 and caller.headers["content-type"] == "application/xml"
    url, params = _stream(caller.text)
    assert (url, params.pop("auth", "")[:3]) == (MEDIA_URL, "v1.")
    assert params == {"leg": "caller", "bridge": CALL}
    agent = _connect(phone, f"?leg=agent&bridge={CALL}", call_sid=AGENT_CALL)
    url, params = _stream(agent.text)
    assert (url, params.pop("auth", "")[:3]) == (MEDIA_URL, "v1.")
    assert params == {"leg": "agent", "bridge": CALL}


@pytest.mark.parametrize(
    ("query", "param"),
    [("?leg=agent", "bridge"), ("?leg=spy", "leg"), ("?leg=agent&bridge=CA%3B1", "bridge")],
)
def test_connect_refuses_a_leg_it_cannot_place(phone: Phone, query: str, param: str) -> None:
    response = _connect(phone, query)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_connect_needs_twilio_signature(phone: Phone) -> None:
    response = phone.client.post("/phone/twilio/connect", data={"CallSid": CALL})
    assert response.status_code == 403


def test_connect_names_the_public_wss_url_behind_a_proxy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for phone in phone_world(
        sqlite_database(tmp_path), caplog, public_url="https://pay.example.com"
    ):
        url = "https://pay.example.com/phone/twilio/connect"
        headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, url, {"CallSid": CALL})}
        response = phone.client.post(
            "/phone/twilio/connect", data={"CallSid": CALL}, headers=headers
        )
        assert _stream(response.text)[0] == "wss://pay.example.com/phone/twilio/media"


# ---- a whole bridged call -----------------------------------------------------------------


def _start(stream_sid: str, call_sid: str, custom: dict[str, str]) -> str:
    details = {
        "streamSid": stream_sid,
        "callSid": call_sid,
        "tracks": ["inbound"],
        "customParameters": custom,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    return json.dumps({"event": "start", "streamSid": stream_sid, "start": details})


@contextmanager
def _open_stream(
    phone: Phone, stream_sid: str, call_sid: str, custom: dict[str, str]
) -> Iterator[Any]:
    """A started stream, once the server has taken its ``start`` (its first mark comes back)."""
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
    with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws:
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send_text(_start(stream_sid, call_sid, custom))
        ws.send_text(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": "up"}}))
        assert json.loads(ws.receive_text()) == {
            "event": "mark",
            "streamSid": stream_sid,
            "mark": {"name": "up"},
        }
        yield ws


def _audio(reply: str, stream_sid: str) -> bytes:
    out = json.loads(reply)
    assert out["event"] == "media" and out["streamSid"] == stream_sid
    return base64.b64decode(out["media"]["payload"])


@pytest.fixture(params=["in process", "redis"])
def bridged(request: pytest.FixtureRequest, tmp_path: Path, caplog: Any) -> Iterator[Phone]:
    settings: dict[str, Any] = {}
    if request.param == "redis":
        settings["redis_url"] = require_redis()
        client = redis.Redis.from_url(settings["redis_url"])
        client.delete(*(f"cardshield:bridge:{CALL}:{side}:owner" for side in ("caller", "agent")))
    yield from phone_world(sqlite_database(tmp_path), caplog, **settings)


@pytest.mark.timeout(120)  # a frame that never arrives would wait on the socket for good
def test_a_bridged_call_gives_the_agent_masked_audio_and_the_caller_the_agents_voice(
    bridged: Phone, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    phone = bridged
    multimon = require_tool("multimon-ng")
    talk = speech(tmp_path)
    audio = np.concatenate(
        [talk[0], keyed("1230#"), keyed(CANARY_PAN + "#"), keyed(CANARY_CVV + "#"), talk[1]]
    )
    codes = g711.encode(audio, "mulaw")
    voice = g711.encode(talk[1][: FRAME * 50], "mulaw")  # the agent talking back
    token, csrf = agent_session(phone)
    sent: list[str] = []
    # The process's own logging configuration (redacting, JSON) writes the test's log capture.
    with captured_logs() as logs, open_agent(phone, token, csrf) as screen:
        screen.send_text(json.dumps({"action": "start"}))
        until(screen, lambda v: v.get("step") == "expiry")
        spy_sid = "CA" + "8" * 32
        spy_custom = _placed(phone, "agent", spy_sid)
        with (
            _open_stream(phone, "MZcaller", CALL, _placed(phone, "caller", CALL)) as caller,
            _open_stream(
                phone, "MZagent", AGENT_CALL, _placed(phone, "agent", AGENT_CALL)
            ) as agent,
        ):
            # A second agent stream on the same call is refused: nobody listens in.
            headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
            with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as spy:
                spy.send_text(_start("MZspy", spy_sid, spy_custom))
                with pytest.raises(WebSocketDisconnect) as refused:
                    spy.receive_text()
                assert refused.value.code == 1008
            heard_by_agent: list[bytes] = []
            heard_by_caller: list[bytes] = []
            for n, i in enumerate(range(0, len(codes) - FRAME + 1, FRAME)):
                caller.send_text(json.dumps(media(codes[i : i + FRAME], n)))
                reply = agent.receive_text()
                sent.append(reply)
                heard_by_agent.append(_audio(reply, "MZagent"))
                if n < len(voice) // FRAME:
                    agent.send_text(json.dumps(media(voice[n * FRAME : (n + 1) * FRAME], n)))
                    heard_by_caller.append(_audio(caller.receive_text(), "MZcaller"))
            caller.send_text(json.dumps({"event": "stop", "streamSid": "MZcaller"}))
            heard_by_agent.append(_audio(agent.receive_text(), "MZagent"))  # the masker's tail
            agent.send_text(json.dumps({"event": "stop", "streamSid": "MZagent"}))
        ready = until(screen, lambda v: v.get("ready"))
        assert ready["fields"]["card"]["display"].endswith(CANARY_PAN[-4:])
        assert {f: v["status"] for f, v in ready["fields"].items()} == dict.fromkeys(
            ("expiry", "card", "cvc"), "valid"
        )
        screen.send_text(json.dumps({"action": "charge", "amount": 2599, "currency": "EUR"}))
        assert until(screen, lambda v: v.get("outcome") is not None)["outcome"] == "approved"

    # The caller hears the agent exactly as the agent spoke.
    assert b"".join(heard_by_caller) == voice.tobytes()[: len(heard_by_caller) * FRAME]
    assert len(heard_by_caller) == len(voice) // FRAME
    # The agent hears the whole call, with no digit the detector or multimon-ng can find...
    out = np.frombuffer(b"".join(heard_by_agent), np.uint8)
    assert out.size == codes.size - codes.size % FRAME + LATENCY_SAMPLES
    masked = g711.decode(out, "mulaw").astype(np.float64)
    assert len(detect(g711.decode(codes, "mulaw"))) >= 20  # the caller keyed plenty
    assert detect(masked) == []
    heard = multimon_hears(multimon, masked)
    assert "DTMF" not in heard
    # ...and the caller's speech unchanged after the masker's fixed delay.
    n = len(talk[0]) - 800
    assert np.mean(out[LATENCY_SAMPLES : LATENCY_SAMPLES + n] == codes[:n]) > 0.99
    # Canary: not in any message the agent's stream got, nor in the logs.
    log_text = logs.getvalue() + caplog.text
    for text in (*sent, log_text):
        assert_no_card_data(text)
    assert_no_cvv(log_text, CANARY_CVV)
    assert "phone.bridge.joined" in log_text and "phone.bridge.left" in log_text
    assert "phone.stream.stop" in log_text  # the capture logged the call


def test_a_stream_with_half_a_bridge_is_refused(phone: Phone) -> None:
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
    with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws:
        ws.send_text(_start("MZ1", CALL, {"leg": "agent"}))
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_text()
    assert refused.value.code == 1008


def test_a_bridged_stream_is_closed_while_redis_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    for phone in phone_world(sqlite_database(tmp_path), caplog, redis_url=url):
        headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
        with (
            captured_logs() as logs,
            phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws,
        ):
            ws.send_text(_start("MZ1", CALL, _placed(phone, "caller", CALL)))
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert closed.value.code == 1011
        assert "phone.bridge.unavailable" in logs.getvalue()


# ---- a replayed upgrade cannot choose its bridge or leg -----------------------------------
#
# Twilio signs the upgrade's URL only; the bridge and leg come later, in the ``start``
# message. Anyone holding one signed upgrade can open the socket again, so the ``start``
# must also carry the ``auth`` parameter cardshield's TwiML gave that call for that side.


def _start_outcome(phone: Phone, call_sid: str, custom: dict[str, str]) -> int | None:
    """The close code the server answers a ``start`` with; ``None`` if the stream was taken
    (its mark came back)."""
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, MEDIA_URL, {})}
    with phone.client.websocket_connect("/phone/twilio/media", headers=headers) as ws:
        ws.send_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send_text(_start("MZforged", call_sid, custom))
        ws.send_text(json.dumps({"event": "mark", "streamSid": "MZforged", "mark": {"name": "m"}}))
        try:
            ws.receive_text()
        except WebSocketDisconnect as closed:
            return int(closed.code)
        return None


def _forgeries(phone: Phone) -> dict[str, tuple[str, dict[str, str]]]:
    """Start messages a replayed upgrade might send, each as (callSid, customParameters)."""
    caller = _placed(phone, "caller", CALL)
    agent = _placed(phone, "agent", AGENT_CALL)
    other = "CA" + "3" * 32
    clock = phone.client.app.state.clock
    phone.client.app.state.clock = lambda: NOW - timedelta(hours=1)
    try:
        stale = _placed(phone, "caller", CALL)  # placed an hour ago: expired by now
    finally:
        phone.client.app.state.clock = clock
    return {
        "no auth": (CALL, {"leg": "caller", "bridge": CALL}),
        "the caller's auth, as the agent": (CALL, {**caller, "leg": "agent"}),
        "the agent's auth, another bridge": (AGENT_CALL, {**agent, "bridge": other}),
        "the agent's auth, another call": (other, agent),
        "the caller's auth, another call": (other, caller),
        "a tampered auth": (CALL, {**caller, "auth": caller.get("auth", "")[:-2] + "AA"}),
        "a malformed auth": (CALL, {**caller, "auth": "v1.x.y"}),
        "an expired auth": (CALL, stale),
    }


def test_a_start_without_this_calls_auth_for_its_side_is_refused_and_relays_nothing(
    phone: Phone,
) -> None:
    with captured_logs() as logs:
        forgeries = _forgeries(phone)
        # The real agent is on the bridge, waiting for the caller's audio.
        with _open_stream(phone, "MZagent", AGENT_CALL, _placed(phone, "agent", AGENT_CALL)) as a:
            outcomes = {name: _start_outcome(phone, *start) for name, start in forgeries.items()}
            # Nothing reached the agent: its next message is the answer to its own mark.
            a.send_text(
                json.dumps({"event": "mark", "streamSid": "MZagent", "mark": {"name": "n"}})
            )
            assert json.loads(a.receive_text())["event"] == "mark"
            # No refused stream held the caller's side: the real caller still joins.
            with _open_stream(phone, "MZcaller", CALL, _placed(phone, "caller", CALL)) as c:
                c.send_text(json.dumps(media(np.full(FRAME, 0xFF, np.uint8), 0)))
                assert json.loads(a.receive_text())["event"] == "media"
    assert outcomes == dict.fromkeys(forgeries, 1008)
    assert logs.getvalue().count("phone.stream.auth_refused") == len(forgeries)


def test_a_stream_auth_is_bound_to_its_call_bridge_leg_and_expiry(phone: Phone) -> None:
    from cardshield.phone.transports.stream_auth import (
        TTL_S,
        StreamAuthRefused,
        check,
        issue,
    )

    kms, leg = phone.runtime.kms, Leg(CALL, "agent")
    auth = issue(kms, call_sid=AGENT_CALL, leg=leg, now=NOW)
    check(kms, auth, call_sid=AGENT_CALL, leg=leg, now=NOW + timedelta(seconds=TTL_S))
    refusals = {
        "missing": (None, AGENT_CALL, leg, NOW),
        "malformed": ("v2." + auth[3:], AGENT_CALL, leg, NOW),
        "invalid": (auth, CALL, leg, NOW),
        "invalid ": (auth, AGENT_CALL, Leg(CALL, "caller"), NOW),
        " invalid": (auth, AGENT_CALL, Leg("CA" + "3" * 32, "agent"), NOW),
        "expired": (auth, AGENT_CALL, leg, NOW + timedelta(seconds=TTL_S + 1)),
    }
    for reason, (value, call_sid, named, now) in refusals.items():
        with pytest.raises(StreamAuthRefused) as refused:
            check(kms, value, call_sid=call_sid, leg=named, now=now)
        assert refused.value.reason == reason.strip()
