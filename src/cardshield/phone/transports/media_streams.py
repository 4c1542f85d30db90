"""Twilio Media Streams (bidirectional ``<Connect><Stream>``): the protocol, without I/O.

Each message from Twilio goes to :meth:`MediaStreamSession.handle`, which returns the
messages to send back on the socket, i.e. toward the agent's leg. ``media`` payloads
(base64 mu-law, 8 kHz) pass through the DTMF masker, so the agent hears a flat tone where the
caller keyed; digits the masker detects and out-of-band ``dtmf`` messages go to the keypad
and are never forwarded. ``mark`` messages are acknowledged by echoing the mark after the
audio sent before it; ``stop`` flushes the masker's delayed audio.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import numpy as np

from cardshield.phone.dsp.goertzel.detector import DTMFEvent
from cardshield.phone.dsp.masker import StreamMasker
from cardshield.phone.transports import DigitSink
from cardshield.phone.transports.dedupe import DigitDeduper
from cardshield.redaction.logging import get_logger

log = get_logger(__name__)
SAMPLES_PER_MS = 8
KEYS = frozenset("0123456789*#ABCD")


def mark_reply(message: dict[str, Any], stream_sid: str) -> dict[str, Any]:
    """The acknowledgement of a ``mark``: the same mark, after the audio sent before it."""
    mark = message.get("mark")
    name = str(mark.get("name", "") if isinstance(mark, dict) else "")[:64]
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


class MediaStreamSession:
    def __init__(self, sink: DigitSink, *, masker: Callable[..., StreamMasker] = StreamMasker):
        self.sink = sink
        self.stream_sid = ""
        self.call_sid = ""
        self.custom: dict[str, str] = {}
        self.received_samples = 0
        self.stopped = False
        self.digits_captured = 0
        self._dedupe = DigitDeduper()
        self._masker = masker(encoding="mulaw", on_digit=self._inband)

    def handle(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        event = message.get("event")
        if event == "connected":
            return []
        if event == "start":
            start = message.get("start") or {}
            self.stream_sid = str(message.get("streamSid") or start.get("streamSid") or "")
            self.call_sid = str(start.get("callSid") or "")
            custom = start.get("customParameters") or {}
            self.custom = {str(k): str(v) for k, v in custom.items()}
            log.info("phone.stream.start", call_sid=self.call_sid, stream_sid=self.stream_sid)
            return []
        if event == "media":
            return self._media(message.get("media") or {})
        if event == "dtmf":
            digit = str((message.get("dtmf") or {}).get("digit", ""))
            if digit in KEYS:
                at = self.received_samples // SAMPLES_PER_MS
                self._digit(digit, at, at, "message")
            return []  # captured, never forwarded
        if event == "mark":
            return [mark_reply(message, self.stream_sid)]
        if event == "stop":
            self.stopped = True
            tail = self._masker.flush()
            log.info("phone.stream.stop", call_sid=self.call_sid, digits=self.digits_captured)
            return [self._out(tail)] if tail.size else []
        return []

    def _media(self, media: dict[str, Any]) -> list[dict[str, Any]]:
        if media.get("track", "inbound") != "inbound":
            return []
        try:
            codes = np.frombuffer(
                base64.b64decode(media.get("payload", ""), validate=True), np.uint8
            )
        except (binascii.Error, ValueError):
            return []
        if codes.size == 0:
            return []
        self.received_samples += codes.size
        masked = self._masker.process(codes)
        return [self._out(masked)]

    def _out(self, codes: np.ndarray[Any, Any]) -> dict[str, Any]:
        payload = base64.b64encode(np.asarray(codes, np.uint8).tobytes()).decode()
        return {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}

    def _inband(self, event: DTMFEvent) -> None:
        self._digit(event.digit, event.start_ms, event.end_ms, "audio")

    def _digit(self, digit: str, start_ms: int, end_ms: int, source: str) -> None:
        if not self._dedupe.first(digit, start_ms, end_ms, source):
            return
        self.digits_captured += 1
        if self.call_sid:
            self.sink.press(self.call_sid, digit)
