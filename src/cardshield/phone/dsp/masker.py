"""DTMF masking for the agent leg and recorders: every tone out, everything else untouched.

::

    masker = StreamMasker(encoding="mulaw", on_digit=vault_capture)   # one call
    out = masker.process(frame)        # 20 ms in (any size works), the same size out
    masker.latency_ms                  # constant delay between input and output (40)

    batch = BatchMasker(calls=500, encoding="mulaw", on_digit=capture)  # many calls
    out = batch.process(frames)        # shape (calls, n) in, (calls, n) out

The output is the input delayed by ``latency_ms``. Wherever the detector sees a DTMF tone,
from its first sample to its last (plus a 3 ms guard each side, and across bridged
drop-outs), the output holds instead a fixed flat tone that is the same for every digit
(``fill="tone"``) or silence (``fill="silence"``). All other samples pass unchanged, bit for
bit, in the stream's own encoding (16-bit PCM or G.711 codes). The lookahead is what lets a
tone be masked from its first sample although it is recognised only 20-30 ms later. Masking
starts once two analysis blocks agree (about 20 ms of tone), so tones too short to be digits
are masked all the same, while a lone DTMF-like block in speech is not.

Digits go to ``on_digit`` and nowhere else: nothing here logs, and :class:`DTMFEvent` hides
its digit in ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardshield.phone.dsp import g711, levels, tones
from cardshield.phone.dsp.goertzel.bank import SAMPLE_RATE, ToneBank
from cardshield.phone.dsp.goertzel.config import DEFAULT_CONFIG, DetectorConfig
from cardshield.phone.dsp.goertzel.detector import DTMFEvent
from cardshield.phone.dsp.goertzel.tracker import OPEN, Tracker
from cardshield.phone.dsp.wav import Encoding

Fill = Literal["tone", "silence"]

#: Lookahead: a tone's first sample is known within about 25 ms of it (two agreeing blocks),
#: and a resumption after a 10 ms drop-out is known before the gap has to be played out.
LATENCY_SAMPLES = 320
#: Masking starts this many samples before a tone's estimated first sample and ends as many
#: after its last: the edge estimates are good to about 2 ms.
GUARD_SAMPLES = 24
_RAMP = 32  # the fill tone fades in and out over 4 ms, so masking adds no clicks


class BatchMasker:
    """Masks ``calls`` concurrent streams in one vectorized pass per frame.

    ``on_digit(call, event)`` receives each digit keyed on stream ``call``. Slots are reused
    for new calls with :meth:`reset`.
    """

    def __init__(
        self,
        calls: int,
        *,
        encoding: Encoding = "pcm16",
        fill: Fill = "tone",
        tone_hz: float = 2000.0,
        tone_dbm0: float = -20.0,
        on_digit: Callable[[int, DTMFEvent], None] | None = None,
        config: DetectorConfig = DEFAULT_CONFIG,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be at least 1")
        if fill not in ("tone", "silence"):
            raise ValueError("fill must be 'tone' or 'silence'")
        if min(abs(tone_hz - f) for f in tones.LOW_HZ + tones.HIGH_HZ) < 200 or not (
            200 <= tone_hz <= 3400
        ):
            raise ValueError("the fill tone must lie in 200-3400 Hz, 200 Hz from any DTMF tone")
        self.calls = calls
        self.encoding: Encoding = encoding
        self._dtype = np.dtype(np.int16) if encoding == "pcm16" else np.dtype(np.uint8)
        self._silence = 0 if encoding == "pcm16" else g711.SILENCE[encoding]
        self._fill = fill
        self._omega = 2 * np.pi * tone_hz / SAMPLE_RATE
        self._amplitude = levels.amplitude(tone_dbm0) if fill == "tone" else 0.0
        self._on_digit = on_digit
        self._config = config
        self._bank = ToneBank(calls, config)
        self._trackers = [Tracker(config) for _ in range(calls)]
        self._origin = np.zeros(calls, dtype=np.int64)  # sample where each call began
        self._delay = np.full((calls, LATENCY_SAMPLES), self._silence, dtype=self._dtype)
        self._received = 0

    @property
    def latency_ms(self) -> int:
        return -(-LATENCY_SAMPLES * 1000 // SAMPLE_RATE)

    def reset(self, call: int) -> NDArray[np.int16] | NDArray[np.uint8]:
        """End the call in slot ``call`` and start a new one there.

        Digits still being timed go to ``on_digit`` first. Returns the ended call's last
        ``latency`` worth of audio (masked), which :meth:`process` had not yet given out.
        """
        tracker = self._trackers[call]
        tracker.flush(self._bank.halves)
        self._deliver(call, tracker)
        tail: NDArray[np.int16] | NDArray[np.uint8] = self._delay[call].copy()
        self._mask(tail, self._received - LATENCY_SAMPLES, tracker.spans)
        self._trackers[call] = Tracker(self._config)
        self._bank.reset(call)
        self._delay[call] = self._silence
        self._origin[call] = self._received
        return tail

    def process(self, frames: ArrayLike) -> NDArray[np.int16] | NDArray[np.uint8]:
        """Take ``(calls, n)`` samples (int16 for PCM, uint8 codes for G.711); return as many."""
        x = np.asarray(frames)
        if x.ndim != 2 or x.shape[0] != self.calls:
            raise ValueError(f"expected frames of shape ({self.calls}, n)")
        if x.dtype != self._dtype:
            raise ValueError(f"expected {self._dtype} samples for {self.encoding}")
        linear = (
            x.astype(np.float32)
            if self.encoding == "pcm16"
            else g711.decode_float(x, self.encoding)
        )
        self._detect(linear)
        return self._emit(x)

    def flush(self) -> NDArray[np.int16] | NDArray[np.uint8]:
        """End every stream: the delayed samples still held (``latency`` of them per call)."""
        pad = np.full((self.calls, 2 * LATENCY_SAMPLES), self._silence, dtype=self._dtype)
        linear = np.zeros(pad.shape, dtype=np.float32)
        self._detect(linear)
        tail = self._emit(pad)[:, :LATENCY_SAMPLES]
        for call, tracker in enumerate(self._trackers):
            tracker.flush(self._bank.halves)
            self._deliver(call, tracker)
        return tail

    def _detect(self, linear: NDArray[np.float32]) -> None:
        analysis = self._bank.analyze(linear)
        self._received += linear.shape[1]
        busy = (analysis.labels >= 0).any(axis=1)
        busy |= np.array([not t.idle for t in self._trackers])
        for call in np.flatnonzero(busy):
            tracker = self._trackers[call]
            tracker.process(analysis, int(call))
            self._deliver(int(call), tracker)

    def _deliver(self, call: int, tracker: Tracker) -> None:
        if self._on_digit is not None:
            for tone in tracker.digits:
                self._on_digit(call, DTMFEvent.from_tone(tone, int(self._origin[call])))
        tracker.digits.clear()

    def _emit(self, x: NDArray[np.generic]) -> NDArray[np.int16] | NDArray[np.uint8]:
        n = x.shape[1]
        joined = np.concatenate([self._delay, x], axis=1)
        out, self._delay = joined[:, :n].copy(), joined[:, n:]
        first = self._received - n - LATENCY_SAMPLES  # input sample at out[:, 0]
        for call, tracker in enumerate(self._trackers):
            if tracker.spans:
                self._mask(out[call], first, tracker.spans)
        return out

    def _mask(self, row: NDArray[np.generic], first: int, spans: list[list[int]]) -> None:
        n = len(row)
        for start, end in spans:
            a, b = start - GUARD_SAMPLES, end + GUARD_SAMPLES if end != OPEN else OPEN
            lo, hi = max(a, first), min(b, first + n)
            if lo < hi:
                row[lo - first : hi - first] = self._fill_values(np.arange(lo, hi), a, b)
        # Spans played out in full are dropped; the last stays, a drop-out may reopen it.
        while len(spans) > 1 and spans[0][1] + GUARD_SAMPLES <= first + n:
            spans.pop(0)

    def _fill_values(self, t: NDArray[np.int64], a: int, b: int) -> NDArray[np.generic]:
        if self._fill == "silence":
            return np.full(len(t), self._silence, dtype=self._dtype)
        # Raised-cosine fades keep the fill tone's spectrum away from the DTMF frequencies.
        edge = np.minimum(np.minimum(t - a + 1, b - t) / _RAMP, 1.0)
        wave = self._amplitude * (0.5 - 0.5 * np.cos(np.pi * edge)) * np.sin(self._omega * (t - a))
        pcm = g711.to_int16(wave)
        return pcm if self.encoding == "pcm16" else g711.encode(pcm, self.encoding)


class StreamMasker:
    """One call's masker: :class:`BatchMasker` with a single stream and 1-D frames."""

    def __init__(
        self,
        *,
        encoding: Encoding = "pcm16",
        fill: Fill = "tone",
        on_digit: Callable[[DTMFEvent], None] | None = None,
        config: DetectorConfig = DEFAULT_CONFIG,
    ) -> None:
        callback = None if on_digit is None else (lambda _call, event: on_digit(event))
        self._batch = BatchMasker(1, encoding=encoding, fill=fill, on_digit=callback, config=config)

    @property
    def latency_ms(self) -> int:
        return self._batch.latency_ms

    def process(self, frame: ArrayLike) -> NDArray[np.int16] | NDArray[np.uint8]:
        """Mask the next frame (1-D, any length); returns as many samples."""
        out: NDArray[np.int16] | NDArray[np.uint8] = self._batch.process(np.asarray(frame)[None, :])
        return out.reshape(-1)

    def flush(self) -> NDArray[np.int16] | NDArray[np.uint8]:
        """End the call: the delayed samples still held."""
        out: NDArray[np.int16] | NDArray[np.uint8] = self._batch.flush()
        return out.reshape(-1)
