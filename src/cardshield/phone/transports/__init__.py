"""Ways caller audio reaches cardshield: Twilio Media Streams (:mod:`.media_streams`) and a
plain RTP relay (:mod:`.rtp`, :mod:`.relay`). Each masks DTMF toward the agent and hands the
caller's digits to a :class:`DigitSink` (the agent-capture keypad)."""

from __future__ import annotations

from typing import Protocol


class DigitSink(Protocol):
    def press(self, call_sid: str, digit: str) -> None: ...
