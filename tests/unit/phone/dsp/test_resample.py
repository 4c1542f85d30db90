"""Resampling to 8 kHz: the telephone band passes, what would alias is suppressed."""

from __future__ import annotations

import numpy as np
import pytest

from cardshield.phone.dsp.resample import resample


def _tone(hz: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate)


@pytest.mark.parametrize("rate", [11025, 16000, 22050, 44100, 48000, 6000])
def test_band_passes_and_aliases_are_suppressed(rate: int) -> None:
    mix = _tone(1209, rate) + (_tone(5500, rate) if rate > 11000 else 0)
    out = resample(mix, rate, 8000)
    assert len(out) == len(mix) * 8000 // rate
    ref = _tone(1209, 8000)[: len(out)]
    err = out[200:-200] - ref[200:-200]
    # 5.5 kHz would fold to 2.5 kHz; it and any passband error stay 60 dB down.
    assert np.sqrt(np.mean(err**2)) < 1e-3


def test_identity_and_bad_arguments() -> None:
    x = np.arange(10.0)
    assert np.array_equal(resample(x, 8000, 8000), x)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, 8000)
    with pytest.raises(ValueError, match="1-D"):
        resample(np.zeros((2, 2)), 16000, 8000)


def test_to_multimon_rate() -> None:
    out = resample(_tone(941, 8000), 8000, 22050)
    assert len(out) == 11025
    ref = _tone(941, 22050)[: len(out)]
    assert np.sqrt(np.mean((out[300:-300] - ref[300:-300]) ** 2)) < 1e-3
