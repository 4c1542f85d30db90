"""``cardshield dtmf``: detect, mask and generate DTMF in WAV files.

``detect FILE --json`` prints ``{"events": [{"digit", "start_ms", "end_ms"}, ...]}``;
``mask IN -o OUT --json`` writes the agent-side audio with every tone replaced and prints
``{"digits": "...", "latency_ms": N}``; ``generate DIGITS -o OUT`` renders a sequence. Digits
appear only in those documented outputs, for files the user owns: never in logs or errors.
Bad input is a one-line error on stderr and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import numpy as np
import typer

from cardshield.errors import CardshieldError
from cardshield.phone.dsp import (
    Audio,
    StreamMasker,
    detect,
    generate,
    read_wav,
    resample,
    write_wav,
)
from cardshield.phone.dsp.masker import Fill
from cardshield.phone.dsp.wav import ENCODINGS, Encoding

app = typer.Typer(help="Detect, mask and generate DTMF in phone audio (WAV).", no_args_is_help=True)

_RATE = 8000
_CHUNK = _RATE  # the masker's output does not depend on the frame size; 1 s is fast


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _mono(path: Path) -> Audio:
    try:
        audio = read_wav(path)
        audio.mono()
    except CardshieldError as exc:
        _fail(exc.message)
    return audio


@app.command("detect")
def detect_command(
    file: Path = typer.Argument(..., help="Mono WAV: 16-bit PCM, mu-law or A-law, any rate."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """List the DTMF digits in FILE with their start and end times."""
    audio = _mono(file)
    events = detect(audio.linear()[:, 0], audio.sample_rate)
    if as_json:
        rows = [{"digit": e.digit, "start_ms": e.start_ms, "end_ms": e.end_ms} for e in events]
        typer.echo(json.dumps({"events": rows}))
        return
    for e in events:
        typer.echo(f"{e.start_ms:>9} ms {e.end_ms:>9} ms  {e.digit}")


@app.command("mask")
def mask_command(
    file: Path = typer.Argument(..., help="Mono WAV: 16-bit PCM, mu-law or A-law, any rate."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the masked WAV."),
    fill: str = typer.Option("tone", "--fill", help="Replace tones by a flat 'tone' or 'silence'."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Write FILE with every DTMF tone replaced; everything else is kept bit for bit.

    The output is time-aligned with the input and keeps its encoding; input at another rate
    than 8 kHz is converted to 8 kHz first.
    """
    if fill not in ("tone", "silence"):
        _fail("--fill must be 'tone' or 'silence'")
    mode: Fill = "tone" if fill == "tone" else "silence"
    audio = _mono(file)
    if audio.sample_rate != _RATE:
        linear = resample(audio.linear()[:, 0], audio.sample_rate, _RATE)
        audio = Audio.from_linear(linear, _RATE, audio.encoding)
    data = audio.mono()
    digits: list[str] = []
    masker = StreamMasker(
        encoding=audio.encoding, fill=mode, on_digit=lambda e: digits.append(e.digit)
    )
    pieces = [masker.process(data[i : i + _CHUNK]) for i in range(0, len(data), _CHUNK)]
    delay = masker.latency_ms * _RATE // 1000
    masked = np.concatenate([*pieces, masker.flush()])[delay : delay + len(data)]
    try:
        write_wav(output, Audio(masked[:, None], _RATE, audio.encoding))
    except CardshieldError as exc:
        _fail(exc.message)
    if as_json:
        typer.echo(json.dumps({"digits": "".join(digits), "latency_ms": masker.latency_ms}))
    else:
        typer.echo(f"masked {len(digits)} digit(s) into {output} (latency {masker.latency_ms} ms)")


@app.command("generate")
def generate_command(
    digits: str = typer.Argument(..., help="Keys to render: 0-9, *, #, A-D."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the WAV."),
    level: float = typer.Option(-10.0, "--level", help="Low-group tone level, dBm0."),
    twist: float = typer.Option(0.0, "--twist", help="High tone minus low tone, dB."),
    on_ms: float = typer.Option(80.0, "--on-ms", help="Tone duration."),
    off_ms: float = typer.Option(80.0, "--off-ms", help="Pause between tones (and around)."),
    noise_snr: float | None = typer.Option(None, "--noise-snr", help="Add white noise, dB."),
    encoding: str = typer.Option("pcm16", "--encoding", help="pcm16, mulaw or alaw."),
    rate: int = typer.Option(_RATE, "--rate", help="Sample rate, Hz."),
) -> None:
    """Render DIGITS as DTMF into a WAV file."""
    if encoding not in ENCODINGS:
        _fail("--encoding must be pcm16, mulaw or alaw")
    if on_ms <= 0 or off_ms < 0 or not 1000 <= rate <= 192000:
        _fail("--on-ms must be positive, --off-ms not negative, --rate 1000-192000 Hz")
    try:
        signal = generate(
            digits,
            sample_rate=rate,
            level_dbm0=level,
            twist_db=twist,
            on_ms=on_ms,
            off_ms=off_ms,
            noise_snr_db=noise_snr,
        )
    except ValueError:
        _fail("DIGITS may hold only 0-9, *, #, A, B, C and D")
    enc: Encoding = "mulaw" if encoding == "mulaw" else "alaw" if encoding == "alaw" else "pcm16"
    try:
        write_wav(output, Audio.from_linear(signal.samples, rate, enc))
    except CardshieldError as exc:
        _fail(exc.message)
    typer.echo(f"wrote {len(signal.spans)} tone(s) to {output}")
