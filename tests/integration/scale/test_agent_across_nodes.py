"""An agent screen connected to node A sees digits captured by node B; a caller's stream on
node B and the agent's stream on node A hear each other, masked, through Redis.

Two `cardshield serve` processes share one PostgreSQL database and one Redis database. An
agent operator (created with `cardshield users add`) signs in through node A's console pages,
enrolling TOTP, and opens the agent screen's WebSocket on node A. The caller's Twilio Media
Streams socket is served by node B, which captures the card keyed as ``dtmf`` messages. The
agent screen on node A must show the masked progress (last four, brand, every field valid)
and never the full number or the security code.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import httpx
import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from cardshield.crypto import Secret
from cardshield.phone.dsp import g711
from cardshield.phone.dsp.generator import generate
from cardshield.phone.dsp.goertzel.detector import detect
from cardshield.phone.twilio_signature import sign
from cardshield.security import totp
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data, assert_no_cvv
from tests.integration.scale.harness import Cluster, make_cluster
from tests.unit.web.console.support import b32decode, csrf_of

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

AUTH_TOKEN = "twilio-scale-auth-token-0123456789"
ACCOUNT_SID = "AC" + "0" * 32
CALL = "CA" + "5" * 32
PASSWORD = "violet-anchor-meadow-42"
SILENCE = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence
MASKED = "\u2022\u2022\u2022\u2022 " * 3 + CANARY_PAN[-4:]


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("agent-scale")
    settings = {"twilio_auth_token": AUTH_TOKEN, "twilio_account_sid": ACCOUNT_SID}
    for c in make_cluster(tmp, 2, **settings):
        c.start()
        yield c


def add_agent(c: Cluster, username: str) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "cardshield", "users", "add", username),
            *("--role", "agent", "--merchant", c.merchant, "--password-stdin"),
        ],
        env=c.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def sign_in(http: httpx.Client, username: str) -> str:
    """Password then TOTP enrollment through the pages; returns the session's CSRF token."""
    page = http.get("/console/login")
    assert page.status_code == 200, page.text
    posted = http.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"].startswith("/console/enroll"), posted.headers
    enroll = http.get("/console/enroll")
    found = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', enroll.text)
    assert found is not None, enroll.text
    seed = Secret(b32decode(found.group(1)))
    code = totp.code_at(seed, totp.step_at(datetime.now(UTC)))
    done = http.post("/console/enroll", data={"code": code, "csrf_token": csrf_of(enroll.text)})
    assert done.status_code == 200 and "Recovery codes" in done.text, done.text
    return csrf_of(http.get("/console/account").text)


def views_until(agent: ClientConnection, seen: list[str], done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = str(agent.recv(timeout=deadline - time.monotonic()))
        seen.append(text)
        view: dict[str, Any] = json.loads(text)
        assert view.get("type") != "error", view
        if done(view):
            return view
    raise AssertionError(f"the agent view never got there: {seen[-1:]}")


def test_agent_screen_on_node_a_sees_digits_captured_by_node_b(cluster: Cluster) -> None:
    node_a, node_b = cluster.nodes
    add_agent(cluster, "agent-a")
    with httpx.Client(base_url=node_a.url, timeout=10) as http:
        csrf = sign_in(http, "agent-a")
        session = http.cookies.get("cardshield_session")
    assert session, "node A set no session cookie"
    seen: list[str] = []
    agent_url = f"ws://127.0.0.1:{node_a.port}/console/phone/live/{CALL}?csrf={csrf}"
    with connect(
        agent_url,
        origin=Origin(f"http://127.0.0.1:{node_a.port}"),
        additional_headers={"Cookie": f"cardshield_session={session}"},
        open_timeout=10,
    ) as agent:
        agent.send(json.dumps({"action": "start"}))
        views_until(agent, seen, lambda v: v.get("step") == "expiry")

        media_url = f"ws://127.0.0.1:{node_b.port}/phone/twilio/media"
        signature = {"X-Twilio-Signature": sign(AUTH_TOKEN, media_url, {})}
        with connect(media_url, additional_headers=signature, open_timeout=10) as caller:
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
            caller.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            caller.send(json.dumps(start))
            n = 0
            for group in ("1230#", CANARY_PAN + "#", CANARY_CVV + "#"):
                for digit in group:
                    caller.send(
                        json.dumps({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": digit}})
                    )
                    n += 1  # a frame of silence between presses, as on a real call
                    frame = {"payload": SILENCE, "track": "inbound", "chunk": str(n)}
                    caller.send(json.dumps({"event": "media", "streamSid": "MZ1", "media": frame}))
                    reply = json.loads(str(caller.recv(timeout=10)))
                    assert reply["event"] == "media", reply  # the dtmf message is never echoed
                if group == CANARY_PAN + "#":
                    # Node A has the number's masked progress before the caller goes on.
                    card = views_until(
                        agent, seen, lambda v: v["fields"]["card"]["status"] == "valid"
                    )["fields"]["card"]
                    assert card["display"] == MASKED and card["brand"] == "visa", card
            caller.send(json.dumps({"event": "stop", "streamSid": "MZ1"}))
        ready = views_until(agent, seen, lambda v: v.get("ready"))
    card = ready["fields"]["card"]
    assert card["display"] == MASKED
    assert card["brand"] == "visa" and card["status"] == "valid"
    assert {f: v["status"] for f, v in ready["fields"].items()} == dict.fromkeys(
        ("expiry", "card", "cvc"), "valid"
    )
    # Every message node A pushed: masked only, never the number or the security code.
    assert len(seen) >= 3
    for text in seen:
        assert_no_card_data(text)
        assert_no_cvv(text, CANARY_CVV)
    for log in cluster.logs:
        if log.exists():
            assert_no_card_data(log.read_bytes())


def _placed(node_url: str, call_sid: str, leg: str) -> dict[str, str]:
    """The stream parameters (leg, bridge, auth) a node's TwiML gives ``call_sid`` as ``leg``."""
    url = f"{node_url}/phone/twilio/connect" + (
        "" if leg == "caller" else f"?leg={leg}&bridge={CALL}"
    )
    form = {"CallSid": call_sid}
    response = httpx.post(
        url, data=form, headers={"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)}, timeout=10
    )
    assert response.status_code == 200, response.text
    (stream,) = ElementTree.fromstring(response.text).iter("Stream")
    return {p.attrib["name"]: p.attrib["value"] for p in stream.iter("Parameter")}


@contextmanager
def _stream(
    url: str, stream_sid: str, call_sid: str, custom: dict[str, str]
) -> Iterator[ClientConnection]:
    """A media stream that has joined its side of the bridge (its first mark came back)."""
    signature = {"X-Twilio-Signature": sign(AUTH_TOKEN, url, {})}
    with connect(url, additional_headers=signature, open_timeout=10) as ws:
        start = {
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": custom,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        }
        ws.send(json.dumps({"event": "start", "streamSid": stream_sid, "start": start}))
        ws.send(json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": "up"}}))
        assert json.loads(str(ws.recv(timeout=10)))["mark"] == {"name": "up"}
        yield ws


def test_a_caller_on_node_b_and_an_agent_on_node_a_hear_each_other_through_redis(
    cluster: Cluster,
) -> None:
    node_a, node_b = cluster.nodes
    keyed = g711.encode(generate("1230", on_ms=90, off_ms=110, level_dbm0=-8).pcm16(), "mulaw")
    keyed = keyed[: keyed.size - keyed.size % 160]
    voice = g711.encode(  # the agent's side: a 440 Hz tone, not a digit
        (3000 * np.sin(2 * np.pi * 440 * np.arange(160 * 25) / 8000)).astype(np.int16), "mulaw"
    )
    to_agent: list[bytes] = []
    to_caller: list[bytes] = []
    caller_url = f"ws://127.0.0.1:{node_b.port}/phone/twilio/media"
    agent_url = f"ws://127.0.0.1:{node_a.port}/phone/twilio/media"
    agent_sid = "CA" + "6" * 32
    # Each call's TwiML comes from the other node: any node's auth holds on every node.
    with (
        _stream(caller_url, "MZc", CALL, _placed(node_a.url, CALL, "caller")) as caller,
        _stream(agent_url, "MZa", agent_sid, _placed(node_b.url, agent_sid, "agent")) as agent,
    ):
        for n in range(keyed.size // 160):
            payload = base64.b64encode(keyed[n * 160 : (n + 1) * 160].tobytes()).decode()
            caller.send(
                json.dumps({"event": "media", "streamSid": "MZc", "media": {"payload": payload}})
            )
            heard = json.loads(str(agent.recv(timeout=10)))
            assert heard["streamSid"] == "MZa"
            to_agent.append(base64.b64decode(heard["media"]["payload"]))
            if n < voice.size // 160:
                payload = base64.b64encode(voice[n * 160 : (n + 1) * 160].tobytes()).decode()
                agent.send(
                    json.dumps(
                        {"event": "media", "streamSid": "MZa", "media": {"payload": payload}}
                    )
                )
                heard = json.loads(str(caller.recv(timeout=10)))
                assert heard["streamSid"] == "MZc"
                to_caller.append(base64.b64decode(heard["media"]["payload"]))
    assert b"".join(to_caller) == voice.tobytes()
    assert len(detect(g711.decode(keyed, "mulaw"))) == 4  # what the caller keyed...
    assert detect(g711.decode(np.frombuffer(b"".join(to_agent), np.uint8), "mulaw")) == []
