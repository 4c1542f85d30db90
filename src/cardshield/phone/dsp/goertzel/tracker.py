"""Per-stream digit tracking: block labels in, tone spans and digit events out.

A *run* is a stretch of blocks labelled with the same key, tolerating one stray block. Its
first sample is estimated to within a few samples from the half-block magnitudes (a tone's
half-block has a magnitude proportional to the share of it the tone covers). Once a second
block agrees, the run's tone is masked from that first sample on (a lone block, which speech
produces now and then, is not). When two blocks in a row are not labelled the run closes and
its last sample is estimated the same way.

A closed tone waits, as *pending*, for a resumption of the same key: a gap up to
``bridge_ms`` is a drop-out and the parts are one tone; a longer pause, another key, or
enough silence makes it final. A final tone is a digit when it lasted ``min_duration_ms``,
had ``min_blocks`` labelled blocks (three overlapping blocks span 25.5 ms, the time two
agreeing 102-sample blocks take in the classic receivers) and is pure: over the whole tone,
measured with one window as long as the tone (a bin of 30 Hz or less instead of 78 Hz), the
two tones carry ``tone_purity`` of the power. Voiced speech that passes the block checks
for a few blocks fails here, because its neighbouring pitch harmonics no longer leak into
the tones' bins. Durations and gaps are measured between estimated edges, not counted in
blocks, which is what lets 40 ms tones pass at every block alignment while 23 ms tones do
not.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp.goertzel.bank import HALF, HISTORY, SAMPLE_RATE, Analysis
from cardshield.phone.dsp.goertzel.config import DetectorConfig
from cardshield.phone.dsp.tones import HIGH_HZ, LOW_HZ

#: End of a span that is still open.
OPEN = sys.maxsize
# Half-blocks an edge search walks over: the first labelled block can come late when a few
# blocks of a weak tone failed a check.
_WALK = 8
# Shares of a half-block that count as partly covered, and how many such half-blocks make an
# edge gradual: a keyed tone's edge has one (two where leakage between close tones makes a
# full half-block read low), speech gliding through a DTMF-like spectrum has more.
_RAMP_LOW, _RAMP_HIGH = 0.25, 0.65
_GRADUAL = 3
# Samples after a pending tone's end by which a resumed tone would have been labelled.
_RESUME = 3 * HALF
# How far an estimated edge may be off, in samples.
_EDGE_ERROR = 12
# Phase advance over one half-block at each frequency of Analysis.corr: the DTMF tones, then
# dial tone.
_ADVANCE = 2 * np.pi * np.array([*LOW_HZ, *HIGH_HZ, 350.0, 440.0]) * HALF / SAMPLE_RATE
_DIAL = [8, 9]


@dataclass
class _Run:
    key: int
    first: int  # first labelled block (index of its second half-block)
    last: int
    start: int  # first sample (of the whole tone, once merged across a drop-out)
    own_start: int  # first sample of this run itself
    abrupt: bool = True  # every edge so far switched on or off at once
    hits: int = 1  # labelled blocks of this run
    misses: int = 0
    carried: int = 0  # labelled blocks of earlier parts, when merged across a drop-out
    purity: float = 0.0  # of an earlier part, when merged
    masked: bool = False  # has a span in Tracker.spans


@dataclass(frozen=True)
class Tone:
    """A finished tone: key index (``low * 4 + high``) and samples ``start`` to ``end``."""

    key: int
    start: int
    end: int
    hits: int
    purity: float
    abrupt: bool
    masked: bool


class Tracker:
    """Digit state machine for one stream; fed by :class:`~.bank.ToneBank` analyses."""

    def __init__(self, config: DetectorConfig) -> None:
        self._min_len = round(config.min_duration_ms * 8)
        self._min_hits = config.min_blocks
        self._min_purity = config.tone_purity
        self._bridge = round(config.bridge_ms * 8)
        self._run: _Run | None = None
        self._pending: Tone | None = None
        self._corr: NDArray[np.complex64] = np.zeros((0, 8), np.complex64)
        self._mags: NDArray[np.float32] = np.zeros((0, 8), np.float32)
        self._energy: NDArray[np.float32] = np.zeros(0, np.float32)
        self._base = 0
        self._limit = 0
        #: Finished digits, taken by the owner.
        self.digits: list[Tone] = []
        #: Sample spans ``[start, end]`` of tones to mask (``end`` is ``OPEN`` while on).
        self.spans: list[list[int]] = []

    @property
    def idle(self) -> bool:
        return self._run is None and self._pending is None

    def process(self, analysis: Analysis, row: int) -> None:
        """Run through the blocks of stream ``row`` in one analysis."""
        labels = analysis.labels[row]
        self._corr, self._mags = analysis.corr[row], analysis.mags[row]
        self._energy, self._base = analysis.energy[row], analysis.first - HISTORY
        hits = np.flatnonzero(labels >= 0)
        j, n = 0, len(labels)
        while j < n:
            if self.idle:
                nxt = int(np.searchsorted(hits, j))
                if nxt >= len(hits):
                    break
                j = int(hits[nxt])
            self._step(analysis.first + j, int(labels[j]))
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
                if not run.masked:
                    # Two blocks agree: a tone, so what was pending is over. Mask from the
                    # earlier of the two start estimates (the second has a better amplitude
                    # reference).
                    if self._pending is not None:
                        self._finalize()
                    amp = self._amplitude(run.key, run.first, w + 1)
                    start, run.abrupt = self._edge(run.key, run.first, -1, amp)
                    self.spans.append([min(run.start, start), OPEN])
                    run.start = run.own_start = start
                    run.masked = True
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
        start, abrupt = self._edge(key, ref, -1, self._amplitude(key, ref, ref + 1))
        run = self._run = _Run(key, w, w, start, start, abrupt)
        pending = self._pending
        if pending is not None and pending.key == key and start - pending.end <= self._bridge:
            # A drop-out: one tone, masked across the gap.
            run.start, run.carried = pending.start, pending.hits
            run.purity, run.abrupt = pending.purity, pending.abrupt and abrupt
            if pending.masked:
                self.spans[-1][1] = OPEN
            else:
                self.spans.append([pending.start, OPEN])
            run.masked = True
            self._pending = None

    def _close(self, run: _Run) -> None:
        if run.hits >= 2:
            ref = run.last - 1  # the last labelled block is at least half covered
            amp = self._amplitude(run.key, max(run.first, ref - 5), ref + 1)
        else:
            ref = run.last
            if self._weighted(run.key, ref - 1) > self._weighted(run.key, ref):
                ref -= 1
            amp = self._amplitude(run.key, ref, ref + 1)
        end, abrupt = self._edge(run.key, ref, +1, amp)
        end = max(end, run.start + 1)
        if run.masked:
            self.spans[-1][1] = end
        purity = max(run.purity, self._purity(run.key, run.own_start, end))
        hits = run.hits + run.carried
        self._pending = Tone(
            run.key, run.start, end, hits, purity, run.abrupt and abrupt, run.masked
        )

    def _finalize(self) -> None:
        tone, self._pending = self._pending, None
        if (
            tone is not None
            and tone.hits >= self._min_hits
            and tone.end - tone.start >= self._min_len
            and tone.purity >= self._min_purity
            and tone.abrupt
        ):
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

    def _edge(
        self, key: int, ref: int, direction: int, amp: tuple[float, float]
    ) -> tuple[int, bool]:
        """First (``direction`` -1) or one-past-last (+1) sample of the tone around ``ref``.

        ``ref`` is a half-block the tone covers in full, with tone magnitudes ``amp``; each
        neighbour's covered share is its magnitude over ``amp`` (the two tones weighted by
        their own amplitude), summed outward until a half-block less than half covered. Also
        says whether the edge is abrupt: a keyed tone switches on or off inside one
        half-block, so only that one (and, with leakage or noise, a neighbour) is partly
        covered, where voiced speech glides in or out of a DTMF-like spectrum over several.
        """
        lo, hi = key // 4, 4 + key % 4
        a_lo, a_hi = amp
        norm = a_lo * a_lo + a_hi * a_hi
        area, ramp, stopped = 0.0, 0, False
        for step in range(1, _WALK + 2):
            k = ref + direction * step
            if norm == 0 or not self._base <= k < self._limit:
                break
            m = self._mags[k - self._base]
            share = min(max((a_lo * float(m[lo]) + a_hi * float(m[hi])) / norm, 0.0), 1.0)
            # Partly covered half-blocks in a row up to the edge (a drop-out the walk
            # crossed earlier does not count), then the one past the edge.
            partial = _RAMP_LOW < share < _RAMP_HIGH
            ramp = ramp + 1 if partial else (ramp if stopped else 0)
            if stopped or step > _WALK:
                break  # the half-block past the edge is looked at, not added
            area += share
            stopped = share < 0.5
        edge = ref if direction < 0 else ref + 1
        # A walk that never left the tone found no edge, so nothing against abruptness.
        return HALF * edge + direction * round(HALF * area), not stopped or ramp < _GRADUAL

    def _purity(self, key: int, start: int, end: int) -> float:
        """Share of the power the key's two tones (and any dial tone) carry inside the tone.

        The half-block correlations are summed coherently, each tone's measured phase
        advance taken out: one rectangular window as long as the tone. Dial tone counts as
        expected: digits are keyed over it.
        """
        # Edge estimates are good to about 12 samples: keep clear of them.
        a = max(-(-(start + _EDGE_ERROR) // HALF), self._base)
        b = min((end - _EDGE_ERROR) // HALF, self._limit)
        if b - a < 2:
            return 1.0  # too short to measure: the block checks decide alone
        k = np.arange(b - a)[:, None]
        rows = self._corr[a - self._base : b - self._base] * np.exp(-1j * _ADVANCE * k)
        tones = [key // 4, 4 + key % 4]
        drift = np.zeros(len(_ADVANCE))
        drift[tones] = np.angle(np.sum(rows[1:, tones] * np.conj(rows[:-1, tones]), axis=0))
        # A taper over the half-blocks keeps the two tones out of each other's bins.
        taper = np.sin(np.pi * (k + 0.5) / (b - a)) ** 2
        coherent = np.abs(np.sum(taper * rows * np.exp(-1j * drift * k), axis=0)) ** 2
        # Each half-block was correlated at the nominal frequency: undo its own loss.
        coherent /= np.maximum(np.sinc(drift / (2 * np.pi)) ** 2, 0.5)
        expected = float(np.sum(coherent[[*tones, *_DIAL]])) * 2 / (HALF * np.sum(taper)) ** 2
        energy = self._energy[a - self._base : b - self._base]
        total = float(np.sum(taper[:, 0] ** 2 * energy) / np.sum(taper**2)) / HALF
        return expected / total if total > 0 else 0.0
