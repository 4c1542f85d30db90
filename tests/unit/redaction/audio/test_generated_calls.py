"""Generated calls end to end: card data read out and keyed is gone, the rest is untouched.

Each call is a scripted conversation (espeak-ng voices for agent and caller, on their own
channels) in which the caller reads out the canary card number, an expiry and the canary
security code after the agent's prompts, and then keys the card number in as DTMF. After
redaction:

* every card line is silent: no 20 ms frame in it is louder than the line noise;
* the DTMF detector and the recogniser, run on the output, find no card data;
* at least 95% of the samples outside the card lines are unchanged, and every sample outside
  the reported segments is the input's, bit for bit;
* the segments hold times, reasons and confidences, never digits.

Ordinary calls with an order number, a phone number and prices get no span longer than the
padding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cardshield.phone.dsp import Audio, detect
from cardshield.redaction.audio import Redacted, RedactOptions, redact_audio
from cardshield.redaction.spans import card_runs
from cardshield.redaction.speech import SphinxRecognizer
from cardshield.redaction.text import redact
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.redaction.audio.calls import Call
from tests.unit.redaction.audio.conftest import VOICES, card_call, negative_call

OPTIONS = RedactOptions()
NOISE_RMS = 32768 * 10 ** (-60 / 20)  # the calls' line noise (calls.make_call)


def _as_file(call: Call, encoding: str, stereo: bool) -> Audio:
    samples = call.samples if stereo else call.mono()[:, None]
    return Audio.from_linear(samples, call.rate, encoding)  # type: ignore[arg-type]


def _check_card_data_gone(
    call: Call,
    audio: Audio,
    result: Redacted,
    recognizer: SphinxRecognizer,
    lines: list[int],
    max_changed: float = 0.05,
) -> None:
    rate, out = call.rate, result.audio.linear().astype(np.float64)
    card = np.zeros(audio.data.shape, dtype=bool)
    for i in lines:
        line, a, b = call.lines[i]
        channel = line.speaker if audio.channels > 1 else 0
        card[a:b, channel] = True
        frames = out[a : b - (b - a) % 160, channel].reshape(-1, 160)
        loudest = float(np.sqrt((frames**2).mean(axis=1)).max())
        assert loudest < 3 * NOISE_RMS, f"line {i} still has sound ({loudest:.0f} rms)"
    for channel in range(audio.channels):
        assert detect(out[:, channel], rate) == [], "a DTMF digit survived"
    words = [
        w for ch in range(audio.channels) for w in recognizer.transcribe(out[:, ch], rate, ch).words
    ]
    runs = card_runs(words, max_gap=1000, prompt_window=4000, chain_gap=2000, pair_gap=1000)
    for run in runs:
        for i in lines:
            _line, a, b = call.lines[i]
            overlap = run.start < b * 1000 // rate and a * 1000 // rate < run.end
            assert not overlap, "the recogniser still finds card data in a redacted line"
        assert CANARY_PAN not in run.digits
    changed = result.audio.data != audio.data
    assert changed[~card].mean() <= max_changed, "too many of the other samples changed"
    inside = np.zeros(audio.data.shape, dtype=bool)
    for seg in result.segments:
        a, b = seg.start_ms * rate // 1000, -(-seg.end_ms * rate // 1000)
        inside[a:b, seg.channel] = True
    assert not changed[~inside].any(), "a sample outside the reported segments changed"
    report = json.dumps({"segments": [s.to_dict() for s in result.segments]})
    assert_no_card_data(report)
    assert all(
        set(s.to_dict())
        == {"start_ms", "end_ms", "reason", "confidence", "channel", "unsure", "basis"}
        for s in result.segments
    )


def _card_lines(call: Call) -> list[int]:
    return [i for i, (line, _a, _b) in enumerate(call.lines) if line.card]


@pytest.mark.slow
@pytest.mark.parametrize("voices", VOICES, ids=["-".join(v) for v in VOICES])
def test_wideband_mulaw_stereo_call(
    voices: tuple[str, str], speech_cache: Path, recognizer: SphinxRecognizer
) -> None:
    call = card_call(speech_cache, voices, 16000)
    audio = _as_file(call, "mulaw", stereo=True)
    result = redact_audio(audio, OPTIONS, recognizer)
    assert {s.reason for s in result.segments} == {"dtmf", "speech"}
    _check_card_data_gone(call, audio, result, recognizer, _card_lines(call))


@pytest.mark.slow
@pytest.mark.parametrize("voices", VOICES, ids=["-".join(v) for v in VOICES])
def test_wideband_mono_pcm_call(
    voices: tuple[str, str], speech_cache: Path, recognizer: SphinxRecognizer
) -> None:
    """Both speakers on one channel: the card data goes, and the rest stays (about 3% of the
    other samples change for these voices; the limit is 5%)."""
    call = card_call(speech_cache, voices, 16000)
    audio = _as_file(call, "pcm16", stereo=False)
    result = redact_audio(audio, OPTIONS, recognizer)
    _check_card_data_gone(call, audio, result, recognizer, _card_lines(call))


@pytest.mark.slow
@pytest.mark.parametrize("voices", VOICES, ids=["-".join(v) for v in VOICES])
def test_telephone_band_mulaw_stereo_call(
    voices: tuple[str, str], speech_cache: Path, recognizer: SphinxRecognizer
) -> None:
    """8 kHz, the way calls are recorded: the card number, expiry, security code and keyed
    digits are all gone."""
    call = card_call(speech_cache, voices, 8000)
    audio = _as_file(call, "mulaw", stereo=True)
    result = redact_audio(audio, OPTIONS, recognizer)
    assert {s.reason for s in result.segments} == {"dtmf", "speech"}
    _check_card_data_gone(call, audio, result, recognizer, _card_lines(call))


@pytest.mark.slow
@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("voices", VOICES, ids=["-".join(v) for v in VOICES])
def test_ordinary_call_is_left_alone(
    voices: tuple[str, str], rate: int, speech_cache: Path, recognizer: SphinxRecognizer
) -> None:
    call = negative_call(speech_cache, voices, rate)
    audio = _as_file(call, "mulaw", stereo=True)
    result = redact_audio(audio, OPTIONS, recognizer)
    longest = max((s.end_ms - s.start_ms for s in result.segments), default=0)
    assert longest <= OPTIONS.padding_ms
    assert redact("order 4512, phone 555 213 8640") == "order 4512, phone 555 213 8640"
