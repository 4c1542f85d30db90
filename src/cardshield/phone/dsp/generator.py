"""DTMF sequence generator for tests, benchmarks and IVR prompts.

:func:`generate` renders a digit string with controlled level, twist, frequency offsets,
timing, drop-outs, white noise and dial tone, and returns the samples together with the
exact span of every tone (the ground truth the detector and masker tests check against).

Levels follow :mod:`cardshield.phone.dsp.levels`: ``level_dbm0`` is the low-group tone's
level and ``twist_db`` the high tone's level minus the low tone's (positive: high louder).
Samples are float64 on the 16-bit linear scale and unclipped; :meth:`DTMFSignal.pcm16`
rounds and clips, :func:`cardshield.phone.dsp.g711.encode` turns them into G.711 codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cardshield.phone.dsp import levels, tones
from cardshield.phone.dsp.g711 import to_int16

DIAL_TONE_HZ = (350.0, 440.0)


@dataclass(frozen=True)
class ToneSpan:
    """Where one generated tone lies: samples ``start`` (first) to ``end`` (one past last)."""

    digit: str
    start: int
    end: int


@dataclass(frozen=True)
class DTMFSignal:
    samples: NDArray[np.float64]
    sample_rate: int
    spans: tuple[ToneSpan, ...]

    def pcm16(self) -> NDArray[np.int16]:
        return to_int16(self.samples)


def sine(
    n: int, hz: float, dbm0: float, sample_rate: int, phase: float = 0.0
) -> NDArray[np.float64]:
    """``n`` samples of a sine at ``hz`` and ``dbm0``."""
    t = np.arange(n) / sample_rate
    return levels.amplitude(dbm0) * np.sin(2 * np.pi * hz * t + phase)


def generate(
    digits: str,
    *,
    sample_rate: int = 8000,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    on_ms: float = 80.0,
    off_ms: float = 80.0,
    lead_ms: float | None = None,
    tail_ms: float | None = None,
    low_offset_pct: float = 0.0,
    high_offset_pct: float = 0.0,
    low_offset_hz: float = 0.0,
    high_offset_hz: float = 0.0,
    dropout_ms: float = 0.0,
    dropout_at_ms: float | None = None,
    noise_snr_db: float | None = None,
    dial_tone_db: float | None = None,
    seed: int | None = 0,
) -> DTMFSignal:
    """Render ``digits`` as DTMF.

    ``lead_ms``/``tail_ms`` (default ``off_ms``) pad the start and end. Each tone's phases are
    random (from ``seed``). ``dropout_ms`` silences each tone for that long, starting
    ``dropout_at_ms`` into it (default: centred). ``noise_snr_db`` adds white noise whose
    power is that far below the two tones' combined power; ``dial_tone_db`` adds a continuous
    350+440 Hz dial tone that far below (negative: quieter) the DTMF power.
    """
    for digit in digits:
        tones.frequencies(digit)  # raises ValueError for anything that is not a key
    rng = np.random.default_rng(seed)
    ms = sample_rate / 1000.0
    on, off = round(on_ms * ms), round(off_ms * ms)
    lead = round((off_ms if lead_ms is None else lead_ms) * ms)
    tail = round((off_ms if tail_ms is None else tail_ms) * ms)
    total = lead + len(digits) * on + max(len(digits) - 1, 0) * off + tail
    out = np.zeros(total)
    spans: list[ToneSpan] = []
    high_dbm0 = level_dbm0 + twist_db
    for i, digit in enumerate(digits):
        low_hz, high_hz = tones.frequencies(digit)
        low_hz = low_hz * (1 + low_offset_pct / 100) + low_offset_hz
        high_hz = high_hz * (1 + high_offset_pct / 100) + high_offset_hz
        start = lead + i * (on + off)
        phases = rng.uniform(0, 2 * np.pi, 2)
        tone = sine(on, low_hz, level_dbm0, sample_rate, phases[0])
        tone += sine(on, high_hz, high_dbm0, sample_rate, phases[1])
        if dropout_ms > 0:
            gap = round(dropout_ms * ms)
            at = (on - gap) // 2 if dropout_at_ms is None else round(dropout_at_ms * ms)
            tone[max(at, 0) : max(at + gap, 0)] = 0.0
        out[start : start + on] = tone
        spans.append(ToneSpan(digit, start, start + on))
    dtmf_power = levels.power(level_dbm0) + levels.power(high_dbm0)
    if dial_tone_db is not None:
        each = 10 * np.log10(dtmf_power / 2 / levels.DBM0_POWER) + dial_tone_db
        for hz in DIAL_TONE_HZ:
            out += sine(total, hz, each, sample_rate, rng.uniform(0, 2 * np.pi))
    if noise_snr_db is not None:
        out += rng.normal(0.0, np.sqrt(dtmf_power / 10 ** (noise_snr_db / 10)), total)
    return DTMFSignal(samples=out, sample_rate=sample_rate, spans=tuple(spans))
