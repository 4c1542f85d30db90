"""The DTMF generator: levels, twist, offsets, timing, drop-outs, noise and dial tone as asked."""

from __future__ import annotations

import numpy as np
import pytest

from cardshield.phone.dsp import levels, tones
from cardshield.phone.dsp.generator import generate


def _peak_hz(x: np.ndarray, lo: float, hi: float, rate: int = 8000) -> float:
    n = 1 << 17
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    band = (freqs >= lo) & (freqs <= hi)
    return float(freqs[band][np.argmax(spec[band])])


def _tone_power(x: np.ndarray, hz: float, rate: int = 8000) -> float:
    n = np.arange(len(x))
    c = np.sum(x * np.exp(-2j * np.pi * hz * n / rate))
    return float(2 * abs(c) ** 2 / len(x) ** 2)


def test_spans_timing_and_levels() -> None:
    sig = generate("5#", level_dbm0=-12, twist_db=3, on_ms=100, off_ms=60, lead_ms=25)
    assert [(s.digit, s.start, s.end) for s in sig.spans] == [("5", 200, 1000), ("#", 1480, 2280)]
    assert len(sig.samples) == 1480 + 800 + 480
    tone = sig.samples[200:1000]
    low, high = tones.frequencies("5")
    assert levels.dbm0_of_power(_tone_power(tone, low)) == pytest.approx(-12, abs=0.05)
    assert levels.dbm0_of_power(_tone_power(tone, high)) == pytest.approx(-9, abs=0.05)
    assert not sig.samples[:200].any() and not sig.samples[1000:1480].any()


def test_frequency_offsets() -> None:
    sig = generate("1", on_ms=1000, low_offset_pct=1.5, low_offset_hz=2, high_offset_pct=-3.5)
    assert _peak_hz(sig.samples, 600, 1000) == pytest.approx(697 * 1.015 + 2, abs=0.2)
    assert _peak_hz(sig.samples, 1100, 1400) == pytest.approx(1209 * 0.965, abs=0.2)


def test_dropout_noise_and_dial_tone() -> None:
    sig = generate("9", on_ms=80, dropout_ms=10, dropout_at_ms=30, off_ms=0)
    assert not sig.samples[240:320].any() and sig.samples[230:240].any()
    noisy = generate("9", on_ms=2000, off_ms=0, level_dbm0=-10, noise_snr_db=15, seed=3)
    clean = generate("9", on_ms=2000, off_ms=0, level_dbm0=-10, seed=3)
    snr = 10 * np.log10(np.mean(clean.samples**2) / np.mean((noisy.samples - clean.samples) ** 2))
    assert snr == pytest.approx(15, abs=0.2)
    dial = generate("", lead_ms=1000, tail_ms=0, level_dbm0=-10, dial_tone_db=-10)
    assert _peak_hz(dial.samples, 300, 400) == pytest.approx(350, abs=0.5)
    # Dial tone power 10 dB below the two DTMF tones' (-7 dBm0 together).
    assert levels.dbm0_of_power(float(np.mean(dial.samples**2))) == pytest.approx(-17, abs=0.1)


def test_rejects_non_keys_and_is_reproducible() -> None:
    with pytest.raises(ValueError, match="DTMF"):
        generate("12x")
    assert np.array_equal(generate("0*", seed=9).samples, generate("0*", seed=9).samples)
    assert not np.array_equal(generate("0*", seed=9).samples, generate("0*", seed=8).samples)
