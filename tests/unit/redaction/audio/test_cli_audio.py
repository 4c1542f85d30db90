"""``cardshield redact audio``: one file (JSON contract), a folder (pool, resume, report)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.phone.dsp import Audio, detect, generate, read_wav, write_wav
from cardshield.redaction.batch import sha256_of
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.redaction.audio.conftest import VOICES, card_call

runner = CliRunner()


def _keyed_file(path: Path, seed: int, encoding: str = "mulaw", rate: int = 8000) -> None:
    sig = generate(CANARY_PAN + "#" + CANARY_CVV, sample_rate=rate, seed=seed, lead_ms=700)
    rng = np.random.default_rng(seed)
    speech_like = rng.normal(0, 200, len(sig.samples))
    stereo = np.stack([speech_like, sig.samples + speech_like / 4], axis=1)
    write_wav(path, Audio.from_linear(stereo, rate, encoding))  # type: ignore[arg-type]


def test_one_file_json_contract_and_no_digits(speech_cache: Path, tmp_path: Path) -> None:
    call = card_call(speech_cache, VOICES[0], 16000)
    src, dst = tmp_path / "call.wav", tmp_path / "out.wav"
    write_wav(src, Audio.from_linear(call.samples, call.rate, "mulaw"))
    result = runner.invoke(
        app, ["--log-level", "DEBUG", "redact", "audio", str(src), "-o", str(dst), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"segments", "totals", "model"}
    assert {s["reason"] for s in doc["segments"]} == {"dtmf", "speech"}
    for seg in doc["segments"]:
        assert set(seg) == {
            "start_ms",
            "end_ms",
            "reason",
            "confidence",
            "channel",
            "unsure",
            "basis",
        }
        assert 0 <= seg["confidence"] <= 1 and seg["start_ms"] < seg["end_ms"]
    assert_no_card_data(result.stdout + result.stderr)
    out = read_wav(dst)
    assert (out.sample_rate, out.encoding, out.channels) == (16000, "mulaw", 2)
    assert detect(out.linear()[:, 1], out.sample_rate) == []


def test_beep_mode_and_dtmf_only(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    _keyed_file(src, seed=3, encoding="alaw", rate=22050)
    args = ["redact", "audio", str(src), "-o", str(dst), "--mode", "beep", "--dtmf-only"]
    result = runner.invoke(app, [*args, "--beep-hz", "800"])
    assert result.exit_code == 0, result.output
    assert "dtmf" in result.stdout and CANARY_PAN not in result.stdout
    out = read_wav(dst)
    assert (out.sample_rate, out.encoding) == (22050, "alaw")
    assert detect(out.linear()[:, 1], 22050) == []


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk" + CANARY_PAN.encode())
    cases = [
        ["redact", "audio", str(bad), "-o", str(tmp_path / "o.wav")],
        ["redact", "audio", str(bad)],
        ["redact", "audio", str(tmp_path)],
        ["redact", "audio", str(bad), "-o", str(tmp_path / "o.wav"), "--mode", "bleep"],
        ["redact", "audio", str(bad), "-o", str(tmp_path / "o.wav"), "--beep-level", "6"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert CANARY_PAN not in result.output


def test_batch_parallel_resumable_with_report(tmp_path: Path) -> None:
    src, out = tmp_path / "calls", tmp_path / "redacted"
    (src / "2024" / "may").mkdir(parents=True)
    for i, name in enumerate(["a.wav", "b.WAV", "2024/may/c.wav"]):
        _keyed_file(src / name, seed=i, encoding=("mulaw", "pcm16", "alaw")[i])
    (src / "broken.wav").write_bytes(b"not audio")
    (src / "notes.txt").write_text(f"card {CANARY_PAN}")
    args = ["redact", "audio", str(src), "--out", str(out), "--jobs", "2", "--dtmf-only"]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 1  # the broken file
    summary = json.loads(first.stdout)
    assert (summary["files"], summary["skipped"], summary["failed"]) == (4, 0, 1)
    report = json.loads((out / "redaction-report.json").read_text())
    rows = {f["file"]: f for f in report["files"]}
    assert set(rows) == {"a.wav", "b.WAV", "2024/may/c.wav", "broken.wav"}
    assert rows["broken.wav"]["status"] == "error"
    for name in ("a.wav", "b.WAV", "2024/may/c.wav"):
        assert rows[name]["status"] == "done" and rows[name]["segments"]
        assert {s["reason"] for s in rows[name]["segments"]} == {"dtmf"}
        redacted = read_wav(out / name)
        assert detect(redacted.linear()[:, 1], redacted.sample_rate) == []
    table = list(csv.DictReader(io.StringIO((out / "redaction-report.csv").read_text())))
    assert [r["file"] for r in table] == sorted(rows)
    assert {"file", "status", "duration_ms", "spans", "reasons", "min_confidence"} <= set(table[0])
    for blob in (
        (out / "redaction-report.json").read_text(),
        (out / "redaction-report.csv").read_text(),
        first.output,
    ):
        assert_no_card_data(blob)

    # Resume: finished files are skipped; a changed input is done again.
    _keyed_file(src / "a.wav", seed=9)
    again = runner.invoke(app, [*args, "--resume", "--json"])
    summary = json.loads(again.stdout)
    assert (summary["files"], summary["skipped"], summary["failed"]) == (4, 2, 1)
    report = json.loads((out / "redaction-report.json").read_text())
    digest = {f["file"]: f["sha256"] for f in report["files"]}
    assert digest["a.wav"] == sha256_of(src / "a.wav")

    # Other settings (beep instead of silence): nothing from the earlier runs is reused.
    beeped = runner.invoke(app, [*args, "--resume", "--mode", "beep", "--json"])
    summary = json.loads(beeped.stdout)
    assert (summary["files"], summary["skipped"], summary["failed"]) == (4, 0, 1)
