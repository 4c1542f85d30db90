"""The caller-to-agent direction of the RTP relay, without I/O: RFC 4733 telephone-event
packets are captured and dropped, PCMU/PCMA audio goes through the DTMF masker, and what the
agent receives is restamped as one continuous stream (its own SSRC, sequence numbers +1 and
timestamps + samples per packet, whatever was dropped in between)."""

from __future__ import annotations

import secrets
from functools import partial

import numpy as np

from cardshield.phone.dsp.goertzel.detector import DTMFEvent
from cardshield.phone.dsp.masker import StreamMasker
from cardshield.phone.dsp.wav import Encoding
from cardshield.phone.transports import DigitSink
from cardshield.phone.transports.dedupe import DigitDeduper
from cardshield.phone.transports.rtp import PCMA, PCMU, BadPacket, RtpPacket, TelephoneEvent

CODECS: dict[int, Encoding] = {PCMU: "mulaw", PCMA: "alaw"}
DEFAULT_EVENT_PT = 101


class CallerToAgent:
    def __init__(self, sink: DigitSink, call_sid: str, *, event_pt: int = DEFAULT_EVENT_PT):
        self.sink = sink
        self.call_sid = call_sid
        self.event_pt = event_pt
        self.events_dropped = 0
        self.digits_captured = 0
        self._maskers: dict[int, StreamMasker] = {}
        self._fed: dict[int, int] = {}  # samples fed to each masker
        self._skew: dict[int, int] = {}  # caller-timeline ms minus masker ms, per masker
        self._dedupe = DigitDeduper()
        self._events: set[tuple[int, int]] = set()  # (ssrc, event timestamp) already taken
        self._origin: int | None = None  # caller timestamp of the first packet
        self._seq = secrets.randbelow(1 << 16)
        self._ts = secrets.randbelow(1 << 32)
        self._ssrc = secrets.randbelow(1 << 32)
        self._first = True

    def _ms(self, timestamp: int) -> int:
        if self._origin is None:
            self._origin = timestamp
        return ((timestamp - self._origin) & 0xFFFFFFFF) // 8

    def process(self, data: bytes) -> bytes | None:
        """The packet to send the agent for ``data`` from the caller, or None (dropped)."""
        try:
            packet = RtpPacket.parse(data)
        except BadPacket:
            return None
        if packet.payload_type == self.event_pt:
            self._event(packet)
            return None
        encoding = CODECS.get(packet.payload_type)
        if encoding is None or not packet.payload:
            return None  # other payloads (comfort noise, video) are not relayed to the agent
        at = self._ms(packet.timestamp)
        masker = self._maskers.get(packet.payload_type)
        if masker is None:
            masker = StreamMasker(
                encoding=encoding, on_digit=partial(self._inband, packet.payload_type)
            )
            self._maskers[packet.payload_type] = masker
            self._fed[packet.payload_type] = 0
        # The masker counts only the samples it was fed; audio paused during an event leaves
        # a gap in the caller's timeline, so map masker time back onto it per packet.
        self._skew[packet.payload_type] = at - self._fed[packet.payload_type] // 8
        self._fed[packet.payload_type] += len(packet.payload)
        masked = masker.process(np.frombuffer(packet.payload, np.uint8))
        out = RtpPacket(
            payload_type=packet.payload_type,
            sequence=self._seq,
            timestamp=self._ts,
            ssrc=self._ssrc,
            payload=np.asarray(masked, np.uint8).tobytes(),
            marker=self._first,
        )
        self._first = False
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(packet.payload)) & 0xFFFFFFFF
        return out.to_bytes()

    def _event(self, packet: RtpPacket) -> None:
        self.events_dropped += 1
        try:
            event = TelephoneEvent.parse(packet.payload)
        except BadPacket:
            return
        key = (packet.ssrc, packet.timestamp)
        if event.key is None or key in self._events:
            return  # an update or a repeated end packet of an event already taken
        self._events.add(key)
        start = self._ms(packet.timestamp)
        self._digit(event.key, start, start + event.duration // 8, "rfc4733")

    def _inband(self, payload_type: int, event: DTMFEvent) -> None:
        skew = self._skew[payload_type]
        self._digit(event.digit, skew + event.start_ms, skew + event.end_ms, "audio")

    def _digit(self, digit: str, start_ms: int, end_ms: int, source: str) -> None:
        if self._dedupe.first(digit, start_ms, end_ms, source):
            self.digits_captured += 1
            self.sink.press(self.call_sid, digit)
