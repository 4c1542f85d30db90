"""The RTP relay between a Python RTP sender (the caller) and receiver (the agent) over real
UDP sockets on loopback: RFC 4733 events and in-band tones are captured into the agent's
card capture; the agent receives no telephone-event packet, no tone any detector hears, and
one continuous stream (sequence numbers +1, timestamps +160)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from cardshield.compliance.report.flows import captured_logs
from cardshield.config import Settings, load_settings
from cardshield.errors import ConfigError
from cardshield.phone.agent.service import agent_control, keypad
from cardshield.phone.calls import CallStore
from cardshield.phone.dsp import g711, talkoff
from cardshield.phone.dsp.generator import generate
from cardshield.phone.dsp.goertzel.detector import detect
from cardshield.phone.transports.relay import RtpRelay
from cardshield.phone.transports.rtp import (
    EVENT_KEYS,
    PCMA,
    PCMU,
    RtpPacket,
    TelephoneEvent,
)
from tests.conftest import CANARY_CVV, CANARY_PAN
from tests.databases import sqlite_database
from tests.unit.phone.conftest import multimon_hears, require_tool
from tests.unit.phone.ivr.harness import NOW, Phone, phone_world

CALL = "CA" + "5" * 32
FRAME = 160
EVENT_PT = 101


@pytest.fixture
def phone(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Phone]:
    yield from phone_world(sqlite_database(tmp_path), caplog)


class Caller:
    """Builds the caller's packets: audio frames and RFC 4733 events on one timeline."""

    def __init__(self, codec: int) -> None:
        self.codec = codec
        self.seq = 4000
        self.ts = 90000
        self.packets: list[bytes] = []
        self.audio_packets = 0
        self.event_packets = 0

    def _add(self, pt: int, payload: bytes, ts: int, marker: bool = False) -> None:
        packet = RtpPacket(pt, self.seq, ts, 0x1234, payload, marker=marker)
        self.packets.append(packet.to_bytes())
        self.seq = (self.seq + 1) & 0xFFFF

    def audio(self, pcm: NDArray[np.int16]) -> None:
        codes = g711.encode(pcm, "mulaw" if self.codec == PCMU else "alaw")
        for i in range(0, len(codes) - FRAME + 1, FRAME):
            self._add(self.codec, codes[i : i + FRAME].tobytes(), self.ts)
            self.ts += FRAME
            self.audio_packets += 1

    def events(self, keys: str, *, with_tones: bool = False) -> None:
        """Each key as an RFC 4733 event (100 ms, updates every 50 ms, end sent 3 times);
        audio stops during events unless ``with_tones`` also sends the tone in-band."""
        for key in keys:
            start = self.ts
            code = EVENT_KEYS.index(key)
            tone = generate(key, on_ms=100, off_ms=0, lead_ms=0, tail_ms=0).pcm16()
            for n, duration in enumerate((400, 800, 800, 800)):
                end = n >= 1
                payload = TelephoneEvent(code, end, 10, duration).to_bytes()
                self._add(EVENT_PT, payload, start, marker=n == 0)
                self.event_packets += 1
                if with_tones and n < 2:
                    self.audio(tone[n * 400 : (n + 1) * 400][: 2 * FRAME])
            if not with_tones:
                self.ts += 800  # the audio resumes after the event: a gap in timestamps
            self.audio(np.zeros(800, np.int16))


async def play(relay: RtpRelay, caller: Caller, *, codec_name: str) -> list[RtpPacket]:
    loop = asyncio.get_running_loop()
    received: list[bytes] = []

    class Agent(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.append(data)

    agent_transport, _ = await loop.create_datagram_endpoint(Agent, local_addr=("127.0.0.1", 0))
    agent_addr = agent_transport.get_extra_info("sockname")
    session = await relay.allocate(CALL + codec_name, agent_addr=agent_addr, event_pt=EVENT_PT)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for n, packet in enumerate(caller.packets):
            sender.sendto(packet, ("127.0.0.1", session.caller_port))
            if n % 4 == 0:
                await asyncio.sleep(0.001)  # let the relay keep up (loopback UDP buffers)
        deadline = time.monotonic() + 5
        while len(received) < caller.audio_packets and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        sender.close()
        agent_transport.close()
    relay.drain()
    return [RtpPacket.parse(p) for p in received]


def assert_clean_stream(out: list[RtpPacket], caller: Caller, codec: int) -> NDArray[np.float64]:
    assert len(out) == caller.audio_packets
    assert {p.payload_type for p in out} == {codec}  # no telephone-event packet
    assert {(b.sequence - a.sequence) & 0xFFFF for a, b in pairwise(out)} == {1}
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in pairwise(out)} == {FRAME}
    assert len({p.ssrc for p in out}) == 1
    assert out[0].marker and not any(p.marker for p in out[1:])
    codes = np.frombuffer(b"".join(p.payload for p in out), np.uint8)
    return g711.decode(codes, "mulaw" if codec == PCMU else "alaw").astype(np.float64)


def test_rfc4733_and_inband_digits_are_captured_and_never_reach_the_agent(
    phone: Phone, tmp_path: Path
) -> None:
    multimon = require_tool("multimon-ng")
    require_tool("espeak-ng")
    talk = next(iter(talkoff.speech_clips(tmp_path, count=1, seed=3)))
    call = CALL + "PCMU"
    agent_control(phone.runtime).start(call, phone.merchant, now=NOW, actor="test")
    caller = Caller(PCMU)
    caller.audio(talk)
    caller.events("1230#")  # expiry: out of band only, audio paused meanwhile
    caller.audio(generate(CANARY_PAN + "#", on_ms=90, off_ms=90, level_dbm0=-8).pcm16())
    caller.events(CANARY_CVV + "#", with_tones=True)  # both at once: one press each
    caller.audio(talk)

    async def scenario() -> list[RtpPacket]:
        relay = RtpRelay(keypad(phone.runtime, lambda: NOW))
        try:
            out = await play(relay, caller, codec_name="PCMU")
            session = relay.sessions[call]
            assert session.caller_to_agent.events_dropped == caller.event_packets
            assert session.caller_to_agent.digits_captured == 5 + 17 + 4
            return out
        finally:
            relay.close()

    out = asyncio.run(scenario())
    audio = assert_clean_stream(out, caller, PCMU)
    assert detect(audio) == []
    assert "DTMF" not in multimon_hears(multimon, audio)
    assert np.std(audio[: len(talk) - 400]) > 100  # speech passes
    state = CallStore(phone.runtime.engine).get(call)
    assert state.step == "ready", (state.step, state.fields)
    assert (state.last4, state.brand) == (CANARY_PAN[-4:], "visa")


def test_pcma_tones_are_masked_and_idle_sessions_are_swept(phone: Phone) -> None:
    multimon = require_tool("multimon-ng")
    caller = Caller(PCMA)
    caller.audio(np.zeros(1600, np.int16))
    caller.audio(generate("123", on_ms=90, off_ms=90, level_dbm0=-8).pcm16())
    caller.audio(np.zeros(1600, np.int16))

    async def scenario() -> list[RtpPacket]:
        relay = RtpRelay(keypad(phone.runtime, lambda: NOW), idle_s=5)
        try:
            out = await play(relay, caller, codec_name="PCMA")
            session = relay.sessions[CALL + "PCMA"]
            assert session.caller_to_agent.digits_captured == 3  # dropped: no capture active
            port = session.caller_port
            assert relay.sweep(now=time.monotonic() + 1) == []
            assert relay.sweep(now=time.monotonic() + 6) == [CALL + "PCMA"]
            assert relay.sessions == {}
            await asyncio.sleep(0.05)  # transports close on the next loop iteration
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.1", port))  # the port was given back
            probe.close()
            return out
        finally:
            relay.close()

    audio = assert_clean_stream(asyncio.run(scenario()), caller, PCMA)
    assert detect(audio) == []
    assert "DTMF" not in multimon_hears(multimon, audio)


def test_packets_round_trip() -> None:
    p = RtpPacket(0, 65535, 0xFFFFFFFF, 7, b"\xff" * 160, marker=True)
    assert RtpPacket.parse(p.to_bytes()) == p
    e = TelephoneEvent(11, True, 10, 1600)
    assert TelephoneEvent.parse(e.to_bytes()) == e and e.key == "#"


def test_sessions_are_allocated_and_released_through_the_api(phone: Phone) -> None:
    from cardshield.security.apikeys import create_key

    with phone.runtime.engine.begin() as conn:
        key = create_key(
            conn, now=NOW, merchant_id=phone.merchant, kind="secret", scopes=["payments:write"]
        )
    auth = {"Authorization": f"Bearer {key.key.reveal()}"}
    agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    agent.bind(("127.0.0.1", 0))
    agent.settimeout(2)
    body = {"call_sid": "CAapi1", "agent_port": agent.getsockname()[1]}
    assert phone.client.post("/v1/phone/rtp/sessions", json=body).status_code == 401
    r = phone.client.post("/v1/phone/rtp/sessions", json=body, headers=auth)
    assert r.status_code == 200, r.text
    ports = r.json()
    assert ports["caller_port"] != ports["agent_port"] and ports["idle_timeout_s"] > 0
    again = phone.client.post("/v1/phone/rtp/sessions", json=body, headers=auth)
    assert again.status_code >= 400  # one session per call
    caller = Caller(PCMU)
    caller.events("5")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for packet in caller.packets:
        sender.sendto(packet, ("127.0.0.1", ports["caller_port"]))
    got = [RtpPacket.parse(agent.recv(2048)) for _ in range(caller.audio_packets)]
    assert {p.payload_type for p in got} == {PCMU}
    # The agent's voice goes back to the caller's latched address unchanged.
    back = RtpPacket(PCMU, 1, 160, 99, b"\x55" * 160).to_bytes()
    agent.sendto(back, ("127.0.0.1", ports["agent_port"]))
    sender.settimeout(2)
    assert sender.recv(2048) == back
    sender.close()
    agent.close()
    r = phone.client.delete("/v1/phone/rtp/sessions/CAapi1", headers=auth)
    assert r.status_code == 200 and r.json()["released"] is True
    assert phone.client.delete("/v1/phone/rtp/sessions/CAapi1", headers=auth).status_code == 404


def test_a_second_caller_source_never_reaches_the_agent(phone: Phone) -> None:
    """The caller's side latches on the first packet's source; a packet from any other
    address or port on the caller's port is dropped and counted, never masked or forwarded.
    The same holds for the agent's side toward the caller."""

    async def scenario() -> None:
        relay = RtpRelay(keypad(phone.runtime, lambda: NOW))
        agent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        agent.bind(("127.0.0.1", 0))
        agent.setblocking(False)
        caller, intruder = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
        try:
            session = await relay.allocate(CALL + "latch", agent_addr=agent.getsockname())
            to_caller = ("127.0.0.1", session.caller_port)
            real = RtpPacket(PCMU, 1, 160, 0x1234, b"\x55" * FRAME).to_bytes()
            forged = RtpPacket(PCMU, 2, 320, 0x1234, b"\x11" * FRAME).to_bytes()
            caller.sendto(real, to_caller)
            await asyncio.sleep(0.05)
            for _ in range(5):
                intruder.sendto(forged, to_caller)
            await asyncio.sleep(0.05)
            caller.sendto(real, to_caller)  # the latched caller still gets through
            await asyncio.sleep(0.05)
            heard = []
            with contextlib.suppress(BlockingIOError):
                while True:
                    heard.append(RtpPacket.parse(agent.recv(2048)).payload)
            assert len(heard) == 2 and not any(b"\x11" in payload for payload in heard)
            assert session.forwarded == 2 and session.dropped_foreign == 5
            # The agent's side latches too: audio from elsewhere never reaches the caller.
            to_agent = ("127.0.0.1", session.agent_port)
            agent.sendto(real, to_agent)
            intruder.sendto(forged, to_agent)
            await asyncio.sleep(0.05)
            caller.settimeout(1)
            assert caller.recv(2048) == real
            caller.settimeout(0.2)
            with pytest.raises(TimeoutError):
                caller.recv(2048)
            assert session.dropped_foreign == 6
        finally:
            for s in (agent, caller, intruder):
                s.close()
            relay.close()

    with captured_logs() as logs:
        asyncio.run(scenario())
    assert "phone.rtp.foreign_source" in logs.getvalue()


def _allocate(world: Phone, call_sid: str, host: str) -> Any:
    from cardshield.security.apikeys import create_key

    with world.runtime.engine.begin() as conn:
        key = create_key(
            conn, now=NOW, merchant_id=world.merchant, kind="secret", scopes=["payments:write"]
        )
    auth = {"Authorization": f"Bearer {key.key.reveal()}"}
    body = {"call_sid": call_sid, "agent_host": host, "agent_port": 40000}
    return world.client.post("/v1/phone/rtp/sessions", json=body, headers=auth)


def _refused(response: Any) -> bool:
    error = response.json().get("error") or {}
    return response.status_code == 400 and (error.get("code"), error.get("param")) == (
        "agent_host_not_allowed",
        "agent_host",
    )


def test_an_agent_host_outside_the_default_allow_list_is_refused(phone: Phone) -> None:
    """By default the masked audio may go to this host only: a session cannot be pointed at
    another machine (or the cloud metadata address) to have cardshield send it traffic."""
    for n, host in enumerate(("192.0.2.7", "169.254.169.254", "10.20.0.15", "evil.example")):
        response = _allocate(phone, f"CAhost{n}", host)
        assert _refused(response), (host, response.status_code, response.text)
    assert _allocate(phone, "CAlocal", "127.0.0.1").status_code == 200


def test_the_agent_hosts_allow_list_takes_addresses_networks_and_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    allowed = ["127.0.0.1", "10.20.0.0/16", "media.cde.internal"]
    for world in phone_world(sqlite_database(tmp_path), caplog, rtp_agent_hosts=allowed):
        for n, host in enumerate(("192.0.2.7", "10.21.0.1", "localhost", "evil.example")):
            response = _allocate(world, f"CAhost{n}", host)
            assert _refused(response), (host, response.status_code, response.text)
        for n, host in enumerate(("127.0.0.1", "10.20.3.4", "MEDIA.cde.internal")):
            response = _allocate(world, f"CAok{n}", host)
            assert response.status_code == 200, (host, response.text)


def test_the_agent_hosts_setting() -> None:
    from cardshield.phone.transports.relay import agent_host_allowed

    default = Settings().rtp_agent_hosts
    assert agent_host_allowed("127.0.0.1", default) and agent_host_allowed("localhost", default)
    assert not agent_host_allowed("10.20.0.15", default)
    hosts = load_settings(env={"CARDSHIELD_RTP_AGENT_HOSTS": "10.0.0.0/8, pbx.internal"})
    assert hosts.rtp_agent_hosts == ("10.0.0.0/8", "pbx.internal")
    assert agent_host_allowed("10.9.8.7", hosts.rtp_agent_hosts)
    assert not agent_host_allowed("127.0.0.1", hosts.rtp_agent_hosts)
    with pytest.raises(ConfigError) as bad:
        load_settings(env={"CARDSHIELD_RTP_AGENT_HOSTS": "10.0.0.0/33"})
    assert bad.value.param == "CARDSHIELD_RTP_AGENT_HOSTS"
