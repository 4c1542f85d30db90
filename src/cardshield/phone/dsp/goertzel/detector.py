"""The streaming DTMF detector: the public API later phone work builds on.

::

    det = DTMFDetector()             # 8 kHz linear samples on the 16-bit scale
    for frame in frames:             # frames of any size, any dtype (int16, float)
        for event in det.feed(frame):
            ...                      # event.digit, event.start_ms, event.end_ms
    rest = det.flush()               # end of stream: the digits still being timed

    detect(samples, sample_rate)     # a whole recording at once (resampled to 8 kHz)

Events come in time order, each once, shortly after its tone ends (a tone stays open for
``bridge_ms`` in case it resumes after a drop-out). Times are milliseconds from the start of
the stream, ``start_ms`` the first tone sample and ``end_ms`` one past the last. A digit's
``repr`` hides the digit, so a stray log line of an event cannot leak what was keyed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from cardshield.phone.dsp import tones
from cardshield.phone.dsp.goertzel.bank import BLOCK, HALF, SAMPLE_RATE, ToneBank
from cardshield.phone.dsp.goertzel.config import DEFAULT_CONFIG, DetectorConfig
from cardshield.phone.dsp.goertzel.tracker import Tone, Tracker
from cardshield.phone.dsp.resample import resample

# Largest piece analysed at once: bounds memory on long recordings (about 2 minutes).
_CHUNK = HALF * 20000


@dataclass(frozen=True)
class DTMFEvent:
    """One detected digit. ``repr`` does not show the digit."""

    digit: str = field(repr=False)
    start_ms: int
    end_ms: int

    @classmethod
    def from_tone(cls, tone: Tone, origin: int = 0) -> DTMFEvent:
        """The event for ``tone`` on a stream whose first sample was ``origin``."""
        return cls(
            digit=tones.digit_at(tone.key // 4, tone.key % 4),
            start_ms=round((tone.start - origin) * 1000 / SAMPLE_RATE),
            end_ms=round((tone.end - origin) * 1000 / SAMPLE_RATE),
        )


class DTMFDetector:
    """Streaming detector for one 8 kHz stream (ITU-T Q.24, see :mod:`.config`)."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, config: DetectorConfig = DEFAULT_CONFIG):
        if sample_rate != SAMPLE_RATE:
            raise ValueError("the streaming detector runs at 8000 Hz; use detect() to resample")
        self.config = config
        self._start()

    def _start(self) -> None:
        self._bank = ToneBank(1, self.config)
        self._tracker = Tracker(self.config)

    def feed(self, samples: ArrayLike) -> list[DTMFEvent]:
        """Analyse the next samples; returns the digits that finished."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        for first in range(0, len(x), _CHUNK):
            analysis = self._bank.analyze(x[None, first : first + _CHUNK])
            self._tracker.process(analysis, 0)
        return self._take()

    def flush(self) -> list[DTMFEvent]:
        """End the stream and return the remaining digits; the detector starts afresh after."""
        # Trailing silence lets a tone that runs to the very end close on its own.
        events = self.feed(np.zeros(2 * BLOCK))
        self._tracker.flush(self._bank.halves)
        events += self._take()
        self._start()
        return events

    def _take(self) -> list[DTMFEvent]:
        events = [DTMFEvent.from_tone(t) for t in self._tracker.digits]
        self._tracker.digits.clear()
        return events


def detect(
    samples: ArrayLike, sample_rate: int = SAMPLE_RATE, config: DetectorConfig = DEFAULT_CONFIG
) -> list[DTMFEvent]:
    """All digits in a recording of linear samples (16-bit scale) at ``sample_rate``."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        x = resample(x, sample_rate, SAMPLE_RATE)
    detector = DTMFDetector(config=config)
    return detector.feed(x) + detector.flush()
