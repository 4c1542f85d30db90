"""``cardshield dtmf``: the JSON contracts, errors as one line, and no digit where none belongs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.phone.dsp import Audio, detect, read_wav, write_wav
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.phone.dsp.cardentry import KEYED, card_entry_call

runner = CliRunner()
CLI = [sys.executable, "-m", "cardshield.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a user runs it."""
    code = "from cardshield.cli import main; main()"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("encoding", "rate"), [("pcm16", 8000), ("mulaw", 8000), ("alaw", 8000), ("pcm16", 16000)]
)
def test_generate_then_detect_json(tmp_path: Path, encoding: str, rate: int) -> None:
    out = tmp_path / "keys.wav"
    made = runner.invoke(
        app,
        [
            "dtmf",
            "generate",
            "19#*",
            "-o",
            str(out),
            "--level",
            "-12",
            "--twist",
            "2",
            "--on-ms",
            "60",
            "--off-ms",
            "50",
            "--noise-snr",
            "25",
            "--encoding",
            encoding,
            "--rate",
            str(rate),
        ],
    )
    assert made.exit_code == 0, made.output
    assert "19#*" not in made.output
    audio = read_wav(out)
    assert (audio.encoding, audio.sample_rate) == (encoding, rate)
    found = runner.invoke(app, ["dtmf", "detect", str(out), "--json"])
    assert found.exit_code == 0, found.output
    events = json.loads(found.stdout)["events"]
    assert [e["digit"] for e in events] == ["1", "9", "#", "*"]
    times = [t for e in events for t in (e["start_ms"], e["end_ms"])]
    assert times == pytest.approx([50, 110, 160, 220, 270, 330, 380, 440], abs=3)
    assert all(set(e) == {"digit", "start_ms", "end_ms"} for e in events)


def test_mask_json_contract_and_output(tmp_path: Path, speech_corpus: list[np.ndarray]) -> None:
    call = card_entry_call(speech_corpus, np.random.default_rng(3))
    src, dst = tmp_path / "call.wav", tmp_path / "agent.wav"
    write_wav(src, Audio(call.codes[:, None], 8000, "mulaw"))
    result = _cli("dtmf", "mask", str(src), "-o", str(dst), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"digits": KEYED, "latency_ms": 40}
    assert result.stderr == ""
    masked = read_wav(dst)
    assert (masked.encoding, masked.sample_rate, masked.frames) == ("mulaw", 8000, len(call.codes))
    assert detect(masked.linear()[:, 0]) == []
    # Time-aligned with the input: away from the keyed tones it is the input, bit for bit
    # (the masker may also cover a rare DTMF-like stretch of speech, hence not all of it).
    away = np.ones(len(call.codes), dtype=bool)
    for tone in call.tones:
        away[tone.start - 40 : tone.end + 40] = False
    same = masked.data[:, 0] == call.codes
    assert same[away].mean() > 0.99
    assert not any(same[t.start : t.end].all() for t in call.tones)
    plain = runner.invoke(app, ["dtmf", "mask", str(src), "-o", str(dst), "--fill", "silence"])
    assert plain.exit_code == 0
    assert f"masked {len(KEYED)} digit(s)" in plain.stdout
    assert_no_card_data(plain.stdout)


def test_digits_leave_only_through_the_documented_json(
    tmp_path: Path, speech_corpus: list[np.ndarray]
) -> None:
    call = card_entry_call(speech_corpus, np.random.default_rng(4))
    src = tmp_path / "call.wav"
    write_wav(src, Audio(call.codes[:, None], 8000, "mulaw"))
    logged = ["--log-level", "DEBUG"]
    masked = _cli(*logged, "dtmf", "mask", str(src), "-o", str(tmp_path / "out.wav"))
    detected = _cli(*logged, "dtmf", "detect", str(src))
    as_json = _cli(*logged, "dtmf", "detect", str(src), "--json")
    for run in (masked, detected, as_json):
        assert run.returncode == 0
        assert_no_card_data(run.stderr)
        assert CANARY_CVV + "#" not in run.stderr
    assert_no_card_data(masked.stdout)
    digits = "".join(e["digit"] for e in json.loads(as_json.stdout)["events"])
    assert digits == KEYED  # the user asked to see them, for a file they own
    assert CANARY_PAN not in (tmp_path / "out.wav").read_bytes().decode("latin-1")


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio at all")
    float_wav = tmp_path / "float.wav"
    float_wav.write_bytes(
        b"RIFF"
        + (36 + 8).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + bytes.fromhex("0300010040 1f0000 00 7d0000 0400 2000".replace(" ", ""))
        + b"data"
        + (8).to_bytes(4, "little")
        + bytes(8)
    )
    stereo = tmp_path / "stereo.wav"
    write_wav(stereo, Audio.from_linear(np.zeros((800, 2)), 8000))
    cases = [
        (["dtmf", "detect", str(tmp_path / "missing.wav")], "cannot read"),
        (["dtmf", "detect", str(tmp_path / "notes.wav")], "not a WAV"),
        (["dtmf", "detect", str(float_wav), "--json"], "format tag 0x0003"),
        (["dtmf", "mask", str(stereo), "-o", str(tmp_path / "o.wav")], "mono"),
        (["dtmf", "mask", str(stereo), "-o", str(tmp_path / "o.wav"), "--fill", "x"], "--fill"),
        (["dtmf", "generate", "12X4", "-o", str(tmp_path / "g.wav")], "DIGITS"),
        (["dtmf", "generate", "1", "-o", str(tmp_path / "g.wav"), "--encoding", "gsm"], "pcm16"),
        (["dtmf", "generate", "1", "-o", str(tmp_path / "no" / "g.wav")], "cannot write"),
    ]
    for args, words in cases:
        result = _cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert words in lines[0]
        assert result.stdout == ""
        assert "12X4" not in result.stderr
