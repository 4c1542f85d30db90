"""Transcript redaction: plain text, JSON, WebVTT and SRT (vectors in tests/vectors/transcripts).

Each vector was checked by hand: card numbers in words or digits (also across cues and
segments), codes and expiry dates after a prompt are replaced; order and phone numbers,
prices, zip codes, timings, tags, labels and layout are kept.
"""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from cardshield.cards import luhn_check_digit
from cardshield.cli import app
from cardshield.redaction.spans import UNITS
from cardshield.redaction.transcripts import (
    MARK,
    detect_format,
    redact_strings,
    redact_transcript,
)
from tests.conftest import CANARY_PAN, assert_no_card_data, load_vectors

CASES = load_vectors("transcripts/cases.json")["cases"]
NAMES = {v: k for k, v in UNITS.items() if k not in ("o", "nought", "oh")}
runner = CliRunner()


@pytest.mark.parametrize("case", CASES, ids=[c["note"] for c in CASES])
def test_vectors(case: dict[str, str]) -> None:
    assert redact_transcript(case["in"], case["format"]) == case["out"]  # type: ignore[arg-type]
    assert redact_transcript(case["in"], "auto") == case["out"]
    assert detect_format(case["in"]) == case["format"]


@pytest.mark.parametrize("case", CASES, ids=[c["note"] for c in CASES])
def test_no_canary_survives(case: dict[str, str]) -> None:
    out = case["out"]
    assert_no_card_data(out)
    spoken = " ".join(NAMES[d] for d in CANARY_PAN[:8])
    assert spoken not in out.replace(",", "")


@pytest.mark.parametrize("case", [c for c in CASES if c["format"] in ("vtt", "srt")])
def test_cue_structure_is_kept(case: dict[str, str]) -> None:
    before, after = case["in"].splitlines(), case["out"].splitlines()
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        if "-->" in a or a.strip().isdigit() or not a.strip() or a.startswith(("WEBVTT", "NOTE")):
            assert a == b
    assert case["out"].count("\r\n") == case["in"].count("\r\n")


def _spelled(digits: str, rng: random.Random) -> list[str]:
    words: list[str] = []
    i = 0
    while i < len(digits):
        if i + 1 < len(digits) and digits[i] == digits[i + 1] and rng.random() < 0.5:
            words += ["double", NAMES[digits[i]]]
            i += 2
        else:
            words.append(NAMES[digits[i]] if digits[i] != "0" or rng.random() < 0.5 else "oh")
            i += 1
    return words


@pytest.mark.parametrize("seed", range(25))
def test_generated_numbers_split_over_cues(seed: int) -> None:
    rng = random.Random(seed)
    length = rng.choice([13, 15, 16, 19])
    body = "4" + "".join(rng.choice("0123456789") for _ in range(length - 2))
    pan = body + luhn_check_digit(body)
    words = _spelled(pan, rng)
    cut = sorted(rng.sample(range(1, len(words)), 2))
    pieces = [
        "okay the number is " + " ".join(words[: cut[0]]),
        " ".join(words[cut[0] : cut[1]]),
        " ".join(words[cut[1] :]) + " and that's it",
    ]
    out = redact_strings(pieces)
    assert out[0].startswith("okay the number is ") and out[0].endswith(MARK)
    assert out[1] == MARK
    assert out[2] == f"{MARK} and that's it"


def test_cli_formats() -> None:
    case = next(c for c in CASES if c["format"] == "vtt")
    result = runner.invoke(app, ["redact", "text", "--format", "vtt"], input=case["in"])
    assert result.exit_code == 0
    assert result.stdout == case["out"]
    result = runner.invoke(app, ["redact", "text", "--format", "auto"], input=case["in"])
    assert result.stdout == case["out"]


def test_cli_default_streams_lines_as_before() -> None:
    text = f"pan {CANARY_PAN}\nfour two four two\n"
    result = runner.invoke(app, ["redact", "text"], input=text)
    assert result.exit_code == 0
    assert result.stdout == "pan 424242******4242\nfour two four two\n"


def test_cli_errors_are_one_line() -> None:
    result = runner.invoke(app, ["redact", "text", "--format", "json"], input='{"text": "42')
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    assert "42" not in result.stderr
    result = runner.invoke(app, ["redact", "text", "--format", "docx"], input="x")
    assert result.exit_code == 2


def test_json_keeps_types_and_labels() -> None:
    doc = {"id": 7, "speaker": "caller", "cvc": "737", "words": ["double", "four"], "ok": True}
    out = json.loads(redact_transcript(json.dumps(doc), "json"))
    assert out == {
        "id": 7,
        "speaker": "caller",
        "cvc": "***",
        "words": ["double", "four"],
        "ok": True,
    }
