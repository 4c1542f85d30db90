"""Recordings for the console's review page: a few generated calls, redacted by the real
batch (``run_batch``, DTMF only for speed), so the page reads a report the CLI wrote.

* ``day1/keyed.wav``: stereo mu-law at 8 kHz; the caller (channel 2) keys the canary card
  number as DTMF between bursts of noise ("talk") on both legs;
* ``day1/wide.flac``: the same kind of call as 24-bit stereo FLAC at 8 kHz (the page reads
  every format the batch writes);
* ``quiet.wav``: mono 16-bit PCM at 16 kHz, noise only (nothing cut); the report is then
  given one spoken, unsure span on it by hand, as the speech rules would write one;
* ``broken.wav``: not a WAV file (the report lists it as an error);
* ``card-4111111111111111.wav``: a file whose name holds the card number.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]
from numpy.typing import NDArray

from cardshield.phone.dsp import Audio, generate, write_wav
from cardshield.redaction.audio import RedactOptions
from cardshield.redaction.batch import REPORT_JSON, run_batch

CANARY = "4111111111111111"
KEYED = "day1/keyed.wav"
WIDE = "day1/wide.flac"
QUIET = "quiet.wav"
BROKEN = "broken.wav"
CARD_NAMED = f"card-{CANARY}.wav"
UNSURE_SPAN = {
    "start_ms": 400,
    "end_ms": 900,
    "reason": "speech",
    "confidence": 0.4,
    "channel": 0,
    "unsure": True,
    "basis": "code",
}


def _talk(rng: np.random.Generator, n: int, rate: int) -> NDArray[np.float64]:
    gate = np.sin(np.arange(n) / rate * 2 * np.pi * 3) > 0
    return rng.normal(0, 300, n) * gate


def keyed_call(seed: int = 1) -> NDArray[np.float64]:
    """(frames, 2) at 8 kHz: talk on both legs, the card number keyed on the caller's."""
    rng = np.random.default_rng(seed)
    keyed = generate(CANARY + "#", on_ms=70, off_ms=70, level_dbm0=-9, seed=seed)
    lead = 8000
    n = lead + len(keyed.samples) + lead
    x = np.stack([_talk(rng, n, 8000), _talk(rng, n, 8000)], axis=1)
    x[lead : lead + len(keyed.samples), 1] += keyed.samples
    return x


def make_sources(source: Path) -> None:
    (source / "day1").mkdir(parents=True)
    write_wav(source / KEYED, Audio.from_linear(keyed_call(), 8000, "mulaw"))
    sf.write(source / WIDE, keyed_call(seed=3) / 32768.0, 8000, subtype="PCM_24", format="FLAC")
    quiet = _talk(np.random.default_rng(7), 16000 * 2, 16000)
    write_wav(source / QUIET, Audio.from_linear(quiet, 16000, "pcm16"))
    (source / BROKEN).write_bytes(b"this is not a wav file")
    write_wav(source / CARD_NAMED, Audio.from_linear(keyed_call(seed=2), 8000, "alaw"))


def redacted_folder(root: Path) -> tuple[Path, Path]:
    """(source, out): the generated calls and their redaction, report and all."""
    source, out = root / "source", root / "redacted"
    make_sources(source)
    run_batch(source, out, RedactOptions(speech=False), jobs=1)
    report = json.loads((out / REPORT_JSON).read_text())
    for row in report["files"]:
        if row["file"] == QUIET:
            row["segments"].append(UNSURE_SPAN)
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2))
    return source, out
