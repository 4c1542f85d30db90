"""The masker: every tone replaced from first to last sample, everything else bit-exact.

Card-entry calls (espeak speech, the canary card number and security code keyed as DTMF
with varied level, twist, offset and timing, line noise) go through the masker in 20 ms
frames. The masked agent leg must give no digit to the project's detector, to a deliberately
relaxed one, or to multimon-ng; hold no energy at DTMF frequencies above the line's noise
floor where the tones were; and equal the input, delayed, everywhere else.
"""

from __future__ import annotations

import io
import logging
from dataclasses import replace

import numpy as np
import pytest

from cardshield.phone.dsp import (
    DEFAULT_CONFIG,
    BatchMasker,
    DTMFEvent,
    StreamMasker,
    detect,
    g711,
    generate,
)
from cardshield.phone.dsp.masker import Fill
from cardshield.phone.dsp.tones import HIGH_HZ, LOW_HZ
from cardshield.redaction.logging import configure_logging
from tests.conftest import CANARY_CVV, assert_no_card_data
from tests.unit.phone.conftest import multimon_hears, require_tool
from tests.unit.phone.dsp.cardentry import KEYED, Call, card_entry_call
from tests.unit.phone.dsp.q24 import digits_of

FRAME = 160
# Twist twice as wide, a 12 dB lower threshold, 4% deviation, tones from 20 ms and two blocks;
# the talk-off checks stay, or speech itself would be heard as digits.
RELAXED = replace(
    DEFAULT_CONFIG,
    threshold_dbm0=-50.0,
    normal_twist_db=12.0,
    reverse_twist_db=20.0,
    deviation_pct=4.0,
    min_duration_ms=20.0,
    min_blocks=2,
)


def mask(masker: StreamMasker, codes: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """The masked stream realigned with its input (the constant delay taken out)."""
    out = [masker.process(codes[i : i + frame]) for i in range(0, len(codes), frame)]
    delay = masker.latency_ms * 8
    return np.concatenate([*out, masker.flush()])[delay : delay + len(codes)]


def _dtmf_powers(x: np.ndarray) -> np.ndarray:
    """Power at the eight DTMF frequencies, Blackman-windowed (low leakage from far tones)."""
    n = np.arange(len(x))
    w = np.blackman(len(x))
    return (
        np.array(
            [abs(np.sum(x * w * np.exp(-2j * np.pi * f * n / 8000))) ** 2 for f in LOW_HZ + HIGH_HZ]
        )
        / np.sum(w) ** 2
    )


@pytest.fixture(scope="module")
def calls(speech_corpus: list[np.ndarray]) -> list[Call]:
    rng = np.random.default_rng(21)
    return [card_entry_call(speech_corpus, rng) for _ in range(4)]


@pytest.mark.parametrize("fill", ["tone", "silence"])
def test_masked_card_entry_yields_no_digits_and_no_dtmf_energy(
    calls: list[Call], fill: Fill
) -> None:
    multimon = require_tool("multimon-ng")
    for n, call in enumerate(calls):
        captured: list[DTMFEvent] = []
        out = mask(StreamMasker(encoding="mulaw", fill=fill, on_digit=captured.append), call.codes)
        assert digits_of(captured) == KEYED, f"call {n}: the masker's own capture"
        masked = g711.decode(out, "mulaw").astype(np.float64)
        assert detect(masked) == [], f"call {n}: project detector hears a digit"
        assert detect(masked, config=RELAXED) == [], f"call {n}: relaxed detector hears one"
        assert detect(g711.decode(call.codes, "mulaw"), config=RELAXED) != []  # it can hear
        heard = multimon_hears(multimon, masked)
        assert "DTMF" not in heard, f"call {n}: multimon-ng hears a digit"

        # Inside each tone: DTMF-frequency power no higher than twice the line noise's, as
        # measured the same way over stretches as long in the pause before the digits.
        gap = g711.decode(call.codes[call.speech[0][1] : call.tones[0].start], "mulaw")
        size = max(t.end - t.start for t in call.tones)
        limit = 2 * max(
            _dtmf_powers(gap[a : a + size].astype(float)).max()
            for a in range(0, len(gap) - size, size // 2)
        )
        for tone in call.tones:
            inside = masked[tone.start : tone.end]
            assert _dtmf_powers(inside).max() <= limit, f"call {n}: energy left in a tone"
            # Before masking, the same measure shows the tone 30 dB and more above it.
            before = g711.decode(call.codes[tone.start : tone.end], "mulaw").astype(float)
            assert _dtmf_powers(before).max() > 1000 * limit


@pytest.mark.parametrize("fill", ["tone", "silence"])
def test_tones_replaced_first_to_last_sample_and_the_rest_bit_exact(
    calls: list[Call], fill: Fill
) -> None:
    guard = 40  # samples: the masker's 3 ms guard plus its edge estimate error
    for n, call in enumerate(calls):
        out = mask(StreamMasker(encoding="mulaw", fill=fill), call.codes)
        touched = np.zeros(len(out), dtype=bool)
        for tone in call.tones:
            touched[tone.start - guard : tone.end + guard] = True
        assert np.array_equal(out[~touched], call.codes[~touched]), f"call {n}"
        for start, end in call.speech:
            assert np.array_equal(out[start:end], call.codes[start:end]), f"call {n}: speech"
        if fill == "silence":  # every sample of every tone, first to last, is replaced
            for tone in call.tones:
                assert (out[tone.start : tone.end] == g711.SILENCE["mulaw"]).all(), f"call {n}"


def test_speech_alone_comes_out_untouched_after_a_constant_delay(
    speech_corpus: list[np.ndarray],
) -> None:
    for encoding in ("mulaw", "alaw", "pcm16"):
        masker = StreamMasker(encoding=encoding)
        delay = masker.latency_ms * 8
        assert masker.latency_ms <= 60
        for clip in speech_corpus[:12]:
            x = clip if encoding == "pcm16" else g711.encode(clip, encoding)
            out = np.concatenate(
                [masker.process(x[i : i + FRAME]) for i in range(0, len(x), FRAME)]
            )
            assert np.array_equal(out[delay:], x[: len(out) - delay])
            masker.flush()  # a new call in the same masker
            masker = StreamMasker(encoding=encoding)


def test_frame_size_does_not_change_the_output(calls: list[Call]) -> None:
    call = calls[0]
    reference = mask(StreamMasker(encoding="mulaw"), call.codes)
    for frame in (7, 33, 80, 240, 1000):
        assert np.array_equal(mask(StreamMasker(encoding="mulaw"), call.codes, frame), reference)


def test_batch_masker_matches_one_masker_per_call(calls: list[Call]) -> None:
    rng = np.random.default_rng(5)
    streams = [c.codes for c in calls[:2]] + [
        g711.encode(
            generate(
                "".join(rng.choice(list("0123456789"), 8)), seed=k, level_dbm0=-15, noise_snr_db=25
            ).samples,
            "mulaw",
        )
        for k in range(6)
    ]
    length = -(-max(len(s) for s in streams) // FRAME) * FRAME
    data = np.stack([np.pad(s, (0, length - len(s)), constant_values=0xFF) for s in streams])
    got: dict[int, list[DTMFEvent]] = {i: [] for i in range(len(streams))}
    batch = BatchMasker(
        len(streams), encoding="mulaw", on_digit=lambda call, event: got[call].append(event)
    )
    out = np.concatenate(
        [batch.process(data[:, i : i + FRAME]) for i in range(0, length, FRAME)] + [batch.flush()],
        axis=1,
    )
    for i, stream in enumerate(data):
        alone: list[DTMFEvent] = []
        single = StreamMasker(encoding="mulaw", on_digit=alone.append)
        ref = np.concatenate(
            [single.process(stream[j : j + FRAME]) for j in range(0, length, FRAME)]
            + [single.flush()]
        )
        assert np.array_equal(out[i], ref), f"call {i}"
        assert got[i] == alone and alone, f"call {i}"


def test_batch_slots_are_reused_for_new_calls() -> None:
    got: list[tuple[int, DTMFEvent]] = []
    batch = BatchMasker(2, on_digit=lambda call, event: got.append((call, event)))
    tone = generate("7", on_ms=60, lead_ms=100, tail_ms=300).pcm16()  # 460 ms
    quiet = np.zeros_like(tone)
    for i in range(0, len(tone), FRAME):
        batch.process(np.stack([tone[i : i + FRAME], quiet[i : i + FRAME]]))
    last = np.full(320, 1000, dtype=np.int16)  # 40 ms the caller says before hanging up
    batch.process(np.stack([last, quiet[:320]]))
    # Call 0 hangs up and a new call takes its slot; call 1 goes on. The ended call's
    # delayed audio comes back, nothing lost.
    assert np.array_equal(batch.reset(0), last)
    for i in range(0, len(tone), FRAME):
        batch.process(np.stack([tone[i : i + FRAME], tone[i : i + FRAME]]))
    batch.flush()
    # Times count from the start of each call.
    assert [(c, e.digit) for c, e in got] == [(0, "7"), (0, "7"), (1, "7")]
    assert [e.start_ms for _, e in got] == pytest.approx([100, 100, 600], abs=3)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="fill"):
        BatchMasker(1, fill="beep")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="200 Hz"):
        BatchMasker(1, tone_hz=1300.0)
    with pytest.raises(ValueError, match="int16"):
        StreamMasker().process(np.zeros(160, dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        BatchMasker(3).process(np.zeros((2, 160), dtype=np.int16))


def test_keyed_digits_reach_the_callback_and_nothing_else(
    calls: list[Call], capsys: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    logging.getLogger("cardshield").debug("masking starts")  # the capture works
    captured: list[DTMFEvent] = []
    masker = StreamMasker(encoding="mulaw", on_digit=captured.append)
    out = mask(masker, calls[1].codes)
    keyed = "".join(e.digit for e in captured)
    assert keyed == KEYED
    printed = capsys.readouterr()
    for text in (stream.getvalue(), printed.out, printed.err, repr(captured), repr(masker)):
        assert_no_card_data(text)
        assert CANARY_CVV + "#" not in text
    assert "masking starts" in stream.getvalue()
    assert_no_card_data(out.tobytes())
