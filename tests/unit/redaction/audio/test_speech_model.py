"""Acoustic models: the shipped telephone-band model, its file formats, and adaptation.

Adaptation runs the real CMU SphinxTrain tools (``bw``, ``map_adapt``) and sphinxbase's
``sphinx_fe`` from their Debian packages, on a small corpus spoken by espeak-ng.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardshield.phone.dsp import Audio, write_wav
from cardshield.redaction.speech import SpeechConfig, SpeechUnavailable, SphinxRecognizer
from cardshield.redaction.speech_model import (
    AcousticModel,
    AdaptationError,
    Utterance,
    adapt,
    check_transcripts,
    front_end,
    load_model,
    read_mixture_weights,
    read_sendump,
    telephone_model,
    wideband_model,
    write_mixture_weights,
    write_sendump,
)
from tests.unit.phone.conftest import require_tool
from tests.unit.redaction.audio.calls import say


def test_sendump_round_trip_keeps_the_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    weights = rng.dirichlet(np.ones(16), size=(5, 3))  # [senone, stream, density]
    write_sendump(weights, tmp_path / "sendump")
    back = read_sendump(tmp_path / "sendump")
    assert back.shape == weights.shape
    # One quantisation step is 1024 * ln(1.0001) ~ 0.10 in the log; renormalising after
    # rounding moves every weight a little more, but by less than one step.
    big = weights > 0.02
    assert np.abs(np.log(back[big]) - np.log(weights[big])).max() < 0.1024


def test_shipped_models_read_as_distributions() -> None:
    for model in (wideband_model(), telephone_model()):
        sendump = model.overrides.get("sendump", model.hmm / "sendump")
        weights = read_sendump(Path(sendump))
        assert weights.shape == (5126, 3, 128)
        assert np.allclose(weights.sum(axis=2), 1.0)
    tele = read_sendump(Path(telephone_model().overrides["sendump"]))
    base = read_sendump(wideband_model().hmm / "sendump")
    assert np.abs(tele - base).max() > 0.05, "the telephone model is not the wheel's"


def test_mixture_weights_round_trip(tmp_path: Path) -> None:
    weights = np.random.default_rng(2).dirichlet(np.ones(8), size=(4, 3))
    write_mixture_weights(weights, tmp_path / "mixture_weights")
    assert np.allclose(read_mixture_weights(tmp_path / "mixture_weights"), weights, atol=1e-6)


def test_front_end_hears_the_telephone_band() -> None:
    t = np.arange(16000) / 16000
    low, high = 8000 * np.sin(2 * np.pi * 1000 * t), 8000 * np.sin(2 * np.pi * 6000 * t)
    heard_low, heard_high = front_end(low, 16000), front_end(high, 16000)
    assert len(heard_low) == 16000 and heard_low.dtype == np.int16
    assert np.sqrt(np.mean(heard_low.astype(float) ** 2)) > 5000
    assert np.sqrt(np.mean(heard_high.astype(float) ** 2)) < 50  # above 4 kHz: gone
    assert len(front_end(low[::2], 8000)) == 16000


def test_load_model_refuses_a_folder_that_is_no_model(tmp_path: Path) -> None:
    (tmp_path / "means").write_bytes(b"")
    with pytest.raises(AdaptationError, match="missing variances"):
        load_model(tmp_path)
    with pytest.raises(SpeechUnavailable, match="not an adapted speech model"):
        SphinxRecognizer(SpeechConfig(model=tmp_path))


def test_transcripts_must_use_dictionary_words(tmp_path: Path) -> None:
    dictionary = wideband_model().hmm.parent / "cmudict-en-us.dict"
    check_transcripts([Utterance(tmp_path / "a.wav", "four two four two")], dictionary)
    with pytest.raises(AdaptationError, match="'zxqv' is not in the dictionary"):
        check_transcripts([Utterance(tmp_path / "a.wav", "four zxqv")], dictionary)
    with pytest.raises(AdaptationError, match="empty transcript"):
        check_transcripts([Utterance(tmp_path / "a.wav", "  ")], dictionary)
    with pytest.raises(AdaptationError, match="no recordings"):
        adapt([], tmp_path / "model")


LINES = [
    "four two four two", "seven three seven", "oh nine twenty eight", "the card number",
    "and the security code", "five one one eight", "thank you very much", "the expiry date",
]  # fmt: skip


@pytest.mark.slow
def test_adapting_to_recordings_gives_a_model_the_recogniser_loads(tmp_path: Path) -> None:
    require_tool("espeak-ng")
    require_tool("sox")
    for tool in ("sphinx_fe", "pocketsphinx_mdef_convert"):
        require_tool(tool)
    cache = tmp_path / "speech"
    cache.mkdir()
    corpus = []
    for i, (text, voice) in enumerate(
        (text, voice) for voice in ("en-us+john", "en-gb+linda", "en-us+max") for text in LINES
    ):
        pcm = say(text, voice, 8000, cache)
        path = tmp_path / f"{i:02d}.wav"
        write_wav(path, Audio.from_linear(pcm[:, None], 8000, "mulaw"))
        corpus.append(Utterance(path, text))
    steps: list[str] = []
    summary = adapt(corpus, tmp_path / "model", progress=steps.append)
    assert steps == ["preparing audio", "computing features", "aligning and counting", "adapting"]
    assert summary["utterances"] == len(corpus) and summary["not_aligned"] == 0
    model = load_model(tmp_path / "model")
    base = telephone_model()
    for key in ("mean", "var"):
        assert model.overrides[key].read_bytes() != base.overrides[key].read_bytes()
    recognizer = SphinxRecognizer(SpeechConfig(model=tmp_path / "model"))
    pcm = say("seven three seven", "en-us+m3", 8000, cache)
    words = [w.text for w in recognizer.transcribe(pcm, 8000).words]
    assert words == ["seven", "three", "seven"]


def test_a_failing_tool_is_named_with_its_complaint(tmp_path: Path) -> None:
    for tool in ("sphinx_fe", "pocketsphinx_mdef_convert"):
        require_tool(tool)
    wav = tmp_path / "a.wav"
    write_wav(wav, Audio.from_linear(np.zeros(8000, dtype=np.int16), 8000, "pcm16"))
    shipped = telephone_model()
    broken = tmp_path / "means"
    broken.write_bytes(b"not a means file")
    base = AcousticModel("broken", shipped.hmm, {**shipped.overrides, "mean": broken})
    with pytest.raises(AdaptationError, match=r"^bw failed: \S") as failure:
        adapt([Utterance(wav, "four two")], tmp_path / "model", base=base)
    assert "adapt.log" not in failure.value.message
    assert not (tmp_path / "model").exists()
