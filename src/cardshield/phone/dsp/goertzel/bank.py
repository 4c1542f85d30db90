"""Vectorized Goertzel front end: per-block tone analysis and classification for many streams.

Audio is cut into half-blocks of 51 samples (6.4 ms at 8 kHz). One matrix product per batch
yields, for every half-block, the complex correlations a Goertzel filter would give at the
eight DTMF frequencies (rectangular window), and Hann-weighted correlations (rising and
falling halves of the window) at those frequencies, their second harmonics and the low
tones' third harmonics. Consecutive half-blocks combine into 102-sample blocks (12.75 ms,
bins 78 Hz wide) every 51 samples, so classification runs on overlapping blocks at twice the
usual rate for free:

* rectangular-window powers pick the strongest tone of each group and drive the group-peak
  and energy-ratio checks (neighbouring DTMF frequencies sit near the window's nulls);
* Hann-window powers (flat over the tolerated deviation, low side lobes) give the levels,
  the twist and the harmonic checks;
* the Hann phase advance between consecutive blocks measures each tone's frequency offset
  (unambiguous within +/-78 Hz), which is how deviations of 3.5% are rejected while 1.5% + 2 Hz
  are accepted, and how the energy ratio is corrected for the window's loss off-centre;
* second and third harmonics reject voiced speech and musical notes, which have overtones
  where DTMF tones have none (clipping makes odd harmonics, about 24 dB down at 0 dBm0).

Streams are rows: the same code serves one detector or a batch of hundreds of calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import levels, tones
from cardshield.phone.dsp.goertzel.config import DetectorConfig

_T = TypeVar("_T", bound=np.generic)

SAMPLE_RATE = 8000
HALF = 51
BLOCK = 2 * HALF
#: Half-blocks of magnitude history kept between calls, for edge estimation.
HISTORY = 16

_FREQS = np.array(tones.LOW_HZ + tones.HIGH_HZ)
# Rectangular-window frequencies: the DTMF tones, then dial tone (350 and 440 Hz), whose
# power the whole-tone purity check counts as expected rather than foreign.
_RECT_FREQS = np.concatenate([_FREQS, [350.0, 440.0]])
# Hann-window frequencies: fundamentals, second harmonics, third harmonics of the low group
# (those of the high group lie near or above 4 kHz).
_HANN_FREQS = np.concatenate([_FREQS, 2 * _FREQS, 3 * _FREQS[:4]])
_NT, _NR, _NH = len(_FREQS), len(_RECT_FREQS), len(_HANN_FREQS)
_HANN = np.sin(np.pi * (np.arange(BLOCK) + 0.5) / BLOCK) ** 2


def _omega(hz: NDArray[np.float64]) -> NDArray[np.float64]:
    return 2 * np.pi * hz / SAMPLE_RATE


# Phase that aligns a half-block's correlation with the one before it.
_SHIFT = np.exp(-1j * _omega(_RECT_FREQS) * HALF).astype(np.complex64)
_SHIFT_HANN = np.exp(-1j * _omega(_HANN_FREQS) * HALF).astype(np.complex64)
# A low tone's second harmonic within 180 Hz of the high tone lies inside that tone's Hann
# main lobe; for those pairs only the high tone's second harmonic is checked.
_LOW_HARMONIC_CLEAR = np.abs(2 * _FREQS[:4, None] - _FREQS[None, 4:]) >= 180.0


def _basis() -> NDArray[np.float32]:
    m = np.arange(HALF)[:, None]
    rect = np.exp(-1j * _omega(_RECT_FREQS)[None, :] * m)
    hann = np.exp(-1j * _omega(_HANN_FREQS)[None, :] * m)
    cols = [rect, hann * _HANN[:HALF, None], hann * _HANN[HALF:, None]]
    return np.concatenate([p for c in cols for p in (c.real, c.imag)], axis=1).astype(np.float32)


# Columns: rectangular (10 real, 10 imaginary), Hann rising half (20, 20), Hann falling half.
_BASIS = _basis()
_RE = np.concatenate([np.arange(_NR), 2 * _NR + np.arange(_NH), 2 * _NR + 2 * _NH + np.arange(_NH)])
_IM = np.concatenate([_RE[:_NR] + _NR, _RE[_NR:] + _NH])


@dataclass(frozen=True)
class Analysis:
    """What one call to :meth:`ToneBank.analyze` found.

    ``labels[c, j]`` is the key index (``low * 4 + high``) the block ending with half-block
    ``first + j`` was classified as, or -1. For half-block ``first - HISTORY + k``,
    ``corr[c, k]`` holds the rectangular-window correlations (phase relative to the
    half-block's first sample) at the eight DTMF frequencies and at 350 and 440 Hz,
    ``mags[c, k]`` their magnitudes and ``energy[c, k]`` the sum of squared samples.
    """

    first: int
    labels: NDArray[np.int8]
    corr: NDArray[np.complex64]
    mags: NDArray[np.float32]
    energy: NDArray[np.float32]


class ToneBank:
    """Streaming analysis state for ``calls`` parallel streams at 8 kHz."""

    def __init__(self, calls: int, config: DetectorConfig) -> None:
        self.calls = calls
        self.halves = 0  # half-blocks completed so far (the same for every stream)
        self._rest = np.zeros((calls, 0), dtype=np.float32)
        self._prev = np.zeros((calls, _NR + 2 * _NH), dtype=np.complex64)
        self._prev_hann = np.zeros((calls, _NT), dtype=np.complex64)
        self._corr = np.zeros((calls, HISTORY, _NR), dtype=np.complex64)
        self._energy = np.zeros((calls, HISTORY), dtype=np.float32)
        self._min_power = levels.power(config.threshold_dbm0)
        self._normal = 10 ** (config.normal_twist_db / 10)
        self._reverse = 10 ** (config.reverse_twist_db / 10)
        self._peak = 10 ** (config.group_peak_db / 10)
        self._ratio = config.energy_ratio
        self._second = 10 ** (-config.second_harmonic_db / 10)
        self._third = 10 ** (-config.third_harmonic_db / 10)
        tol_hz = _FREQS * config.deviation_pct / 100 + config.deviation_hz
        tol_rad = np.minimum(2 * np.pi * tol_hz * HALF / SAMPLE_RATE, np.pi)
        self._cos_tol = np.cos(tol_rad).astype(np.float32)

    def reset(self, row: int) -> None:
        """Forget stream ``row``'s history (a new call in that slot)."""
        for state in (self._rest, self._prev, self._prev_hann, self._corr):
            state[row] = 0
        self._energy[row] = 0

    def analyze(self, samples: NDArray[np.float32]) -> Analysis:
        """Consume ``samples`` (shape ``(calls, n)``, 16-bit scale) and classify new blocks."""
        buf = np.concatenate([self._rest, samples.astype(np.float32, copy=False)], axis=1)
        count = buf.shape[1] // HALF
        self._rest = buf[:, count * HALF :]
        first = self.halves
        self.halves += count
        if count == 0:
            empty = np.zeros((self.calls, 0), np.int8)
            return Analysis(first, empty, self._corr, np.abs(self._corr), self._energy)
        halves = buf[:, : count * HALF].reshape(self.calls, count, HALF)
        y = (halves.reshape(-1, HALF) @ _BASIS).reshape(self.calls, count, -1)
        corr = (y[..., _RE] + 1j * y[..., _IM]).astype(np.complex64)
        energy = np.einsum("cjk,cjk->cj", halves, halves)
        labels = self._classify(corr, energy)
        tones = np.concatenate([self._corr, corr[..., :_NR]], axis=1)
        energies = np.concatenate([self._energy, energy], axis=1)
        self._corr, self._energy = tones[:, -HISTORY:], energies[:, -HISTORY:]
        return Analysis(first, labels, tones, np.abs(tones), energies)

    def _classify(
        self, corr: NDArray[np.complex64], energy: NDArray[np.float32]
    ) -> NDArray[np.int8]:
        prev = np.concatenate([self._prev[:, None], corr[:, :-1]], axis=1)
        self._prev = corr[:, -1]
        rect = prev[..., :_NR] + _SHIFT * corr[..., :_NR]
        hann_all = prev[..., _NR : _NR + _NH] + _SHIFT_HANN * corr[..., _NR + _NH :]
        hann = hann_all[..., :_NT]
        hann_prev = np.concatenate([self._prev_hann[:, None], hann[:, :-1]], axis=1)
        self._prev_hann = hann[:, -1]
        total = np.concatenate([self._energy[:, -1:], energy[:, :-1]], axis=1) + energy

        # Powers scaled so that a block-long sine of power P reads P.
        p_rect = (rect.real**2 + rect.imag**2) * (2.0 / BLOCK**2)
        p_hann = (hann_all.real**2 + hann_all.imag**2) * (2.0 / HALF**2)
        p_total = total / BLOCK

        low = np.argmax(p_rect[..., :4], axis=-1)
        high = np.argmax(p_rect[..., 4:_NT], axis=-1) + 4
        lo_r, hi_r = _pick(p_rect, low), _pick(p_rect, high)
        lo_h, hi_h = _pick(p_hann, low), _pick(p_hann, high)
        ok = (lo_h >= self._min_power) & (hi_h >= self._min_power)
        ok &= (hi_h <= lo_h * self._normal) & (lo_h <= hi_h * self._reverse)
        second_lo = np.sort(p_rect[..., :4], axis=-1)[..., -2]
        second_hi = np.sort(p_rect[..., 4:_NT], axis=-1)[..., -2]
        ok &= (lo_r >= second_lo * self._peak) & (hi_r >= second_hi * self._peak)
        ok &= _pick(p_hann, high + 8) <= hi_h * self._second
        clear = _LOW_HARMONIC_CLEAR[low, high - 4]
        ok &= ~clear | (_pick(p_hann, low + 8) <= lo_h * self._second)
        ok &= _pick(p_hann, low + 16) <= lo_h * self._third
        # Frequency: the phase advance of each tone from the previous block, in radians per
        # half-block; divided by pi it is the offset in rectangular-window bins.
        adv = hann * np.conj(hann_prev) * _SHIFT[:_NT]
        z_lo, z_hi = _pick(adv, low), _pick(adv, high)
        ok &= self._within(z_lo, low) & self._within(z_hi, high)
        # Energy ratio, each tone's power corrected for the rectangular window's loss at the
        # measured offset, so that tones 1.5% off count in full.
        loss_lo = np.maximum(np.sinc(np.angle(z_lo) / np.pi) ** 2, 0.25)
        loss_hi = np.maximum(np.sinc(np.angle(z_hi) / np.pi) ** 2, 0.25)
        ok &= lo_r / loss_lo + hi_r / loss_hi >= self._ratio * p_total
        return np.where(ok, low * 4 + high - 4, -1).astype(np.int8)

    def _within(self, z: NDArray[np.complex64], idx: NDArray[np.intp]) -> NDArray[np.bool_]:
        mag = np.abs(z)
        return (mag > 0) & (z.real >= mag * self._cos_tol[idx])


def _pick(arr: NDArray[_T], idx: NDArray[np.intp]) -> NDArray[_T]:
    """``arr[..., idx]`` element-wise: the value at each position's own index."""
    picked: NDArray[_T] = np.take_along_axis(arr, idx[..., None], axis=-1)[..., 0]
    return picked
