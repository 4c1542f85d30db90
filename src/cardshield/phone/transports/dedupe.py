"""One key press may arrive twice: as an out-of-band event (Twilio ``dtmf`` message, RFC 4733
packet) and as the tone still in the audio. The first report wins; the same digit from the
other source overlapping it in stream time (give or take ``slack_ms``) is the same press."""

from __future__ import annotations

SLACK_MS = 200


class DigitDeduper:
    def __init__(self, slack_ms: int = SLACK_MS) -> None:
        self.slack_ms = slack_ms
        self._recent: list[tuple[str, int, int, str]] = []  # digit, start, end ms, source

    def first(self, digit: str, start_ms: int, end_ms: int, source: str) -> bool:
        """True when this report is a new press (and remembers it)."""
        horizon = start_ms - 10 * self.slack_ms
        self._recent = [r for r in self._recent if r[2] >= horizon]
        for seen, a, b, origin in self._recent:
            overlaps = start_ms <= b + self.slack_ms and a <= end_ms + self.slack_ms
            if origin != source and seen == digit and overlaps:
                return False
        self._recent.append((digit, start_ms, end_ms, source))
        return True
