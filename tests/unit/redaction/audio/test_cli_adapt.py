"""``cardshield redact adapt-model`` and ``redact audio --speech-model``: adapting the
recogniser to a deployment's own recordings, with real SphinxTrain tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.phone.dsp import Audio, write_wav
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.phone.conftest import require_tool
from tests.unit.redaction.audio.calls import say, words_for
from tests.unit.redaction.audio.conftest import VOICES, card_call

runner = CliRunner()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    return result.stderr


def test_bad_lists_are_one_line_errors(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    write_wav(wav, Audio.from_linear([0] * 800, 8000, "pcm16"))
    listing = tmp_path / "list.tsv"
    out = ["-o", str(tmp_path / "model")]
    assert "is not a file" in _one_line_error(["redact", "adapt-model", str(tmp_path / "no"), *out])
    for body, message in [
        ("a.wav four two\n", "line 1: expected 'FILE.wav<TAB>words'"),
        ("# recordings\nmissing.wav\tfour two\n", "line 2: missing.wav not found"),
        ("a.wav\t\n", "line 1: expected"),
        (f"a.wav\tthe card is {CANARY_PAN}\n", "write numbers as words"),
        ("a.wav\tfour qzxv\n", "'qzxv' is not in the dictionary"),
    ]:
        listing.write_text(body, encoding="utf-8")
        stderr = _one_line_error(["redact", "adapt-model", str(listing), *out])
        assert message in stderr and CANARY_PAN not in stderr
    assert not (tmp_path / "model").exists(), "nothing is written for a bad list"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    listing.write_text("a.wav\tfour two\n", encoding="utf-8")
    assert "new or empty folder" in _one_line_error(
        ["redact", "adapt-model", str(listing), "-o", str(busy)]
    )
    assert (busy / "keep.txt").read_text() == "mine"


def test_audio_refuses_a_folder_that_is_no_model(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    write_wav(wav, Audio.from_linear([0] * 800, 8000, "pcm16"))
    args = ["redact", "audio", str(wav), "-o", str(tmp_path / "o.wav")]
    stderr = _one_line_error([*args, "--speech-model", str(tmp_path)])
    assert "not an adapted speech model" in stderr


@pytest.mark.slow
def test_adapt_then_redact_with_the_adapted_model(speech_cache: Path, tmp_path: Path) -> None:
    for tool in ("sphinx_fe", "pocketsphinx_mdef_convert"):
        require_tool(tool)
    lines = [
        "what is the card number", words_for("5105105105105100").replace(",", ""),
        "and the expiry date", "oh three twenty nine", "the security code please",
        "four four one", "thank you that is all",
    ]  # fmt: skip
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    rows = []
    for i, text in enumerate(lines * 2):
        voice = ("en-gb+john", "en-us+linda")[i // len(lines)]
        name = f"{i:02d}.wav"
        pcm = say(text, voice, 8000, speech_cache)
        write_wav(recordings / name, Audio.from_linear(pcm[:, None], 8000, "mulaw"))
        rows.append(f"{name}\t{text}")
    listing = recordings / "transcripts.tsv"
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = tmp_path / "model"
    result = runner.invoke(app, ["redact", "adapt-model", str(listing), "-o", str(model), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["utterances"] == len(rows) and summary["model"] == str(model)
    assert "... adapting" in result.stderr
    assert sorted(p.name for p in model.iterdir()) == [
        "means", "model.json", "sendump", "transition_matrices", "variances",
    ]  # fmt: skip

    call = card_call(speech_cache, VOICES[0], 8000)
    src, dst = tmp_path / "call.wav", tmp_path / "out.wav"
    write_wav(src, Audio.from_linear(call.samples, call.rate, "mulaw"))
    args = ["redact", "audio", str(src), "-o", str(dst), "--speech-model", str(model), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    reasons = {s["reason"] for s in json.loads(result.stdout)["segments"]}
    assert reasons == {"dtmf", "speech"}
    assert_no_card_data(result.stdout + result.stderr)
