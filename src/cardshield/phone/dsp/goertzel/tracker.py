"""Per-stream digit tracking: block labels in, tone spans and digit events out.

A *run* is a stretch of blocks labelled with the same key, tolerating one stray block. From
its first labelled block on, the run's tone is masked: its first sample is estimated to
within a few samples from the half-block magnitudes (a tone's half-block has a magnitude
proportional to the share of it the tone covers), and re-estimated once a second block agrees.
When two blocks in a row are not labelled the run closes and its last sample is estimated the
same way.

A closed tone waits, as *pending*, for a resumption of the same key: a gap up to
``bridge_ms`` is a drop-out and the parts are one tone; a longer pause, another key, or
enough silence makes it final. A final tone of at least ``min_duration_ms`` spread over at
least two labelled blocks is a digit. Durations and gaps are measured between estimated
edges, not counted in blocks, which is what lets 40 ms tones pass at every block alignment
while 23 ms tones do not.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp.goertzel.bank import HALF, HISTORY
from cardshield.phone.dsp.goertzel.config import DetectorConfig

#: End of a span that is still open.
OPEN = sys.maxsize
# Half-blocks an edge search walks over: the first labelled block can come late when a few
# blocks of a weak tone failed a check.
_WALK = 8
# Samples after a pending tone's end by which a resumed tone would have been labelled.
_RESUME = 3 * HALF


@dataclass
class _Run:
    key: int
    first: int  # first labelled block (index of its second half-block)
    last: int
    start: int
    hits: int = 1
    misses: int = 0


@dataclass(frozen=True)
class Tone:
    """A finished tone: key index (``low * 4 + high``) and samples ``start`` to ``end``."""

    key: int
    start: int
    end: int
    hits: int


class Tracker:
    """Digit state machine for one stream; fed by :class:`~.bank.ToneBank` analyses."""

    def __init__(self, config: DetectorConfig) -> None:
        self._min_len = round(config.min_duration_ms * 8)
        self._bridge = round(config.bridge_ms * 8)
        self._run: _Run | None = None
        self._pending: Tone | None = None
        self._mags: NDArray[np.float32] = np.zeros((0, 8), np.float32)
        self._base = 0
        self._limit = 0
        #: Finished digits, taken by the owner.
        self.digits: list[Tone] = []
        #: Sample spans ``[start, end]`` of tones to mask (``end`` is ``OPEN`` while on).
        self.spans: list[list[int]] = []

    @property
    def idle(self) -> bool:
        return self._run is None and self._pending is None

    def process(self, labels: NDArray[np.int8], first: int, mags: NDArray[np.float32]) -> None:
        """Run through the blocks of one analysis (``labels`` and ``mags`` of this stream)."""
        self._mags, self._base = mags, first - HISTORY
        hits = np.flatnonzero(labels >= 0)
        j, n = 0, len(labels)
        while j < n:
            if self.idle:
                nxt = int(np.searchsorted(hits, j))
                if nxt >= len(hits):
                    break
                j = int(hits[nxt])
            self._step(first + j, int(labels[j]))
            j += 1

    def flush(self, halves: int) -> None:
        """End of stream: close what is open (``halves`` half-blocks have been analysed)."""
        if self._run is not None:
            self._limit = halves
            self._close(self._run)
            self._run = None
        if self._pending is not None:
            self._finalize()

    def _step(self, w: int, label: int) -> None:
        # Half-blocks after w are never used, so results do not depend on how the stream
        # was chunked.
        self._limit = w + 1
        run = self._run
        if run is not None:
            if label == run.key:
                run.last, run.hits, run.misses = w, run.hits + 1, 0
                if run.hits == 2 and run.start == self.spans[-1][0]:
                    # Better amplitude now; the span keeps the earlier of the two estimates.
                    amp = self._amplitude(run.key, run.first, w + 1)
                    run.start = self._edge(run.key, run.first, -1, amp)
                    self.spans[-1][0] = min(self.spans[-1][0], run.start)
            else:
                run.misses += 1
                if label >= 0 or run.misses >= 2:
                    self._close(run)
                    run = self._run = None
        if run is None and label >= 0:
            self._open(label, w)
        pending = self._pending
        if pending is not None:
            resuming = self._run is not None and self._run.key == pending.key
            if not resuming and HALF * (w + 1) > pending.end + self._bridge + _RESUME:
                self._finalize()

    def _open(self, key: int, w: int) -> None:
        # The block is at least half covered, so its fuller half-block is a good reference.
        ref = w if self._weighted(key, w) >= self._weighted(key, w - 1) else w - 1
        start = self._edge(key, ref, -1, self._amplitude(key, ref, ref + 1))
        run = self._run = _Run(key, w, w, start)
        pending = self._pending
        if pending is not None:
            if pending.key == key and start - pending.end <= self._bridge:
                # A drop-out: one tone, masked across the gap.
                run.start, run.hits = pending.start, run.hits + pending.hits
                self._pending = None
                self.spans[-1][1] = OPEN
                return
            self._finalize()
        self.spans.append([start, OPEN])

    def _close(self, run: _Run) -> None:
        if run.hits >= 2:
            ref = run.last - 1  # the last labelled block is at least half covered
            amp = self._amplitude(run.key, max(run.first, ref - 5), ref + 1)
        else:
            ref = run.last
            if self._weighted(run.key, ref - 1) > self._weighted(run.key, ref):
                ref -= 1
            amp = self._amplitude(run.key, ref, ref + 1)
        end = max(self._edge(run.key, ref, +1, amp), run.start + 1)
        self.spans[-1][1] = end
        self._pending = Tone(run.key, run.start, end, run.hits)

    def _finalize(self) -> None:
        tone, self._pending = self._pending, None
        if tone is not None and tone.hits >= 2 and tone.end - tone.start >= self._min_len:
            self.digits.append(tone)

    def _weighted(self, key: int, k: int) -> float:
        if not self._base <= k < self._limit:
            return 0.0
        m = self._mags[k - self._base]
        return float(m[key // 4]) + float(m[4 + key % 4])

    def _amplitude(self, key: int, a: int, b: int) -> tuple[float, float]:
        """Mean magnitudes of the key's two tones over half-blocks ``a`` to ``b - 1``."""
        rows = self._mags[max(a, self._base) - self._base : min(b, self._limit) - self._base]
        if len(rows) == 0:
            return 0.0, 0.0
        return float(rows[:, key // 4].mean()), float(rows[:, 4 + key % 4].mean())

    def _edge(self, key: int, ref: int, direction: int, amp: tuple[float, float]) -> int:
        """First (``direction`` -1) or one-past-last (+1) sample of the tone around ``ref``.

        ``ref`` is a half-block the tone covers in full, with tone magnitudes ``amp``; each
        neighbour's covered share is its magnitude over ``amp`` (the two tones weighted by
        their own amplitude), summed outward until a half-block less than half covered.
        """
        lo, hi = key // 4, 4 + key % 4
        a_lo, a_hi = amp
        norm = a_lo * a_lo + a_hi * a_hi
        area = 0.0
        for step in range(1, _WALK + 1):
            k = ref + direction * step
            if norm == 0 or not self._base <= k < self._limit:
                break
            m = self._mags[k - self._base]
            share = min(max((a_lo * float(m[lo]) + a_hi * float(m[hi])) / norm, 0.0), 1.0)
            area += share
            if share < 0.5:
                break
        edge = ref if direction < 0 else ref + 1
        return HALF * edge + direction * round(HALF * area)
