"""Talk-off: minutes of speech and music, at several block alignments, give no digit at all.

Speech is espeak-ng in 20 voices and 21 variants over a mu-law line (about six minutes,
made once per session); music is chords and melodies of harmonic-rich notes, some
within 2% of DTMF frequencies (three minutes). Each goes through the detector at three
alignments with its blocks, clean and with line noise, and through the masker, which must
pass it untouched.
"""

from __future__ import annotations

import numpy as np
import pytest

from cardshield.phone.dsp import StreamMasker, detect, g711, levels, talkoff

ALIGNMENTS = (0, 17, 34)


def _line_noise(x: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, np.sqrt(levels.power(-50)), len(x))
    return g711.decode(g711.encode(x + noise, "mulaw"), "mulaw")


def test_speech_gives_no_digit(speech_corpus: list[np.ndarray]) -> None:
    seconds = sum(len(c) for c in speech_corpus) / 8000
    assert seconds > 240
    false = [
        (i, offset, noisy, e.start_ms)
        for i, clip in enumerate(speech_corpus)
        for noisy, x in ((False, clip), (True, _line_noise(clip, i)))
        for offset in ALIGNMENTS
        for e in detect(x[offset:])
    ]
    assert false == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_music_gives_no_digit(seed: int) -> None:
    x = talkoff.music(60, seed=seed)
    assert [(o, e.start_ms) for o in ALIGNMENTS for e in detect(x[o:])] == []


def test_masker_leaves_speech_and_music_untouched(speech_corpus: list[np.ndarray]) -> None:
    for n, x in enumerate([*speech_corpus, talkoff.music(60, seed=4)]):
        codes = g711.encode(x, "mulaw")
        masker = StreamMasker(encoding="mulaw")
        delay = masker.latency_ms * 8
        out = np.concatenate(
            [masker.process(codes[i : i + 1000]) for i in range(0, len(codes), 1000)]
        )
        assert np.array_equal(out[delay:], codes[: len(out) - delay]), f"clip {n}"
