"""Keyed card entry in recordings: every tone silenced or beeped out, per channel, bit-exact.

The caller's leg holds speech-like noise and the canary card number keyed as DTMF; the
agent's leg holds other audio. Files in every encoding, at several rates, mono and stereo.
"""

from __future__ import annotations

import numpy as np
import pytest

from cardshield.phone.dsp import Audio, detect, g711, generate, resample
from cardshield.phone.dsp.tones import HIGH_HZ, LOW_HZ
from cardshield.phone.dsp.wav import parse_wav, wav_bytes
from cardshield.redaction.audio import RedactOptions, redact_audio
from tests.conftest import CANARY_CVV, CANARY_PAN

DTMF_ONLY = RedactOptions(speech=False)


def _call(rate: int, channels: int, seed: int = 1) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(frames, channels) linear samples; the caller (last channel) keys the card number."""
    rng = np.random.default_rng(seed)
    keyed = generate(CANARY_PAN + "#" + CANARY_CVV, on_ms=70, off_ms=70, level_dbm0=-9, seed=seed)
    tones = resample(keyed.samples, 8000, rate) if rate != 8000 else keyed.samples
    lead = rate  # a second of "talk" (noise bursts) before and after
    n = lead + len(tones) + lead
    x = np.zeros((n, channels))
    for ch in range(channels):
        x[:, ch] = rng.normal(0, 300, n) * (np.sin(np.arange(n) / rate * 2 * np.pi * 3) > 0)
    x[lead : lead + len(tones), channels - 1] += tones
    scale = rate / 8000
    spans = [(lead + round(s.start * scale), lead + round(s.end * scale)) for s in keyed.spans]
    return x, spans


@pytest.mark.parametrize(
    ("rate", "encoding", "channels"),
    [
        (8000, "mulaw", 2),
        (8000, "alaw", 1),
        (16000, "pcm16", 2),
        (44100, "alaw", 2),
        (11025, "pcm16", 1),
    ],
)
def test_tones_silenced_rest_bit_exact(rate: int, encoding: str, channels: int) -> None:
    x, spans = _call(rate, channels)
    audio = parse_wav(wav_bytes(Audio.from_linear(x, rate, encoding)))  # type: ignore[arg-type]
    result = redact_audio(audio, DTMF_ONLY)
    out = parse_wav(wav_bytes(result.audio))
    assert (out.sample_rate, out.encoding, out.channels) == (rate, encoding, channels)
    assert out.frames == audio.frames
    linear = out.linear()
    for ch in range(channels):
        assert detect(linear[:, ch], rate) == []
    caller = channels - 1
    silence = 0 if encoding == "pcm16" else g711.SILENCE[encoding]
    for a, b in spans:  # every tone sample is the encoding's silence now
        assert np.all(out.data[a:b, caller] == silence)
    assert {s.reason for s in result.segments} == {"dtmf"}
    assert all(s.channel == caller and s.confidence == 1.0 for s in result.segments)
    changed = out.data != audio.data
    if channels > 1:
        assert not changed[:, 0].any(), "the agent's channel must stay untouched"
    keyed_extent = np.zeros(audio.frames, dtype=bool)
    keyed_extent[spans[0][0] : spans[-1][1]] = True
    # Outside the keyed entry (plus the 15 ms guards) nothing changes.
    guard = 15 * rate // 1000 + 1
    outside = np.ones(audio.frames, dtype=bool)
    outside[spans[0][0] - guard : spans[-1][1] + guard] = False
    assert not changed[outside, caller].any()


def test_beep_mode_is_one_constant_tone() -> None:
    rate = 8000
    x, spans = _call(rate, 2)
    audio = Audio.from_linear(x, rate, "mulaw")
    options = RedactOptions(speech=False, mode="beep", beep_hz=1000.0, beep_dbm0=-18.0)
    result = redact_audio(audio, options)
    linear = result.audio.linear()[:, 1].astype(np.float64)
    assert detect(linear, rate) == []
    a, b = spans[0][0], spans[-1][1]
    piece = linear[a + 80 : b - 80] * np.hanning(b - a - 160)
    spectrum = np.abs(np.fft.rfft(piece))
    freqs = np.fft.rfftfreq(len(piece), 1 / rate)
    assert abs(freqs[np.argmax(spectrum)] - 1000.0) < 5
    for hz in LOW_HZ + HIGH_HZ:  # nothing left at the DTMF frequencies
        near = np.abs(freqs - hz) < 15
        assert spectrum[near].max() < 0.01 * spectrum.max()
    # The same beep for every digit: each tone's span holds the same level.
    levels = [np.sqrt(np.mean(linear[s + 40 : e - 40] ** 2)) for s, e in spans]
    assert max(levels) / min(levels) < 1.1


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="mode"):
        RedactOptions(mode="bleep")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beep"):
        RedactOptions(beep_hz=5000)
    with pytest.raises(ValueError, match="level"):
        RedactOptions(beep_dbm0=3)


def test_segments_never_hold_digits() -> None:
    x, _spans = _call(8000, 1)
    result = redact_audio(Audio.from_linear(x, 8000, "pcm16"), DTMF_ONLY)
    assert result.segments
    for seg in result.segments:
        assert "digit" not in repr(seg)
        assert set(seg.to_dict()) == {
            "start_ms",
            "end_ms",
            "reason",
            "confidence",
            "channel",
            "unsure",
            "basis",
        }
