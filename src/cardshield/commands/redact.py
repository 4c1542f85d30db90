"""``cardshield redact``: mask card data in text streams, transcripts and recordings.

``text`` filters stdin to stdout (line by line, or as a whole transcript with ``--format``);
``audio IN -o OUT --json`` redacts one recording (WAV, FLAC, Ogg/Opus, Ogg/Vorbis or MP3;
the output keeps its format) and prints ``{"segments": [{"start_ms", "end_ms", "reason",
"confidence", "channel"}]}``; ``audio DIR --out DIR2`` redacts a folder
in parallel with a progress bar and a JSON and CSV report; ``adapt-model LIST -o DIR`` fits
the speech model to a deployment's own transcribed recordings. Digits never reach the
output, the report or an error message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

import typer

from cardshield.errors import CardshieldError
from cardshield.redaction.text import redact

if TYPE_CHECKING:  # the audio stack loads only when a command needs it
    from cardshield.redaction.audio import RedactOptions

app = typer.Typer(
    help="Redact card data from text, transcripts and recordings.", no_args_is_help=True
)

_FORMATS = ("auto", "plain", "json", "vtt", "srt")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command("text")
def text(
    line_buffered: bool = typer.Option(
        False, "--line-buffered", help="Flush after every line (for tail -f pipelines)."
    ),
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="Read stdin whole as a transcript: auto, plain, json, vtt or srt (spoken "
        "numbers, numbers across cues, codes after prompts).",
    ),
) -> None:
    """Copy stdin to stdout with every PAN, track and security code masked.

    Without --format it streams line by line; bytes that are not valid UTF-8 pass through
    unchanged.
    """
    if fmt is not None:
        _transcript(fmt)
        return
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "surrogateescape")
        out.write(redact(line).encode("utf-8", "surrogateescape"))
        if line_buffered:
            out.flush()
    out.flush()


def _transcript(fmt: str) -> None:
    from cardshield.redaction.transcripts import Format, redact_transcript

    if fmt not in _FORMATS:
        _fail("--format must be auto, plain, json, vtt or srt")
    document = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    try:
        result = redact_transcript(document, cast("Format", fmt))
    except CardshieldError as exc:
        _fail(exc.message)
    sys.stdout.buffer.write(result.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


@app.command("audio")
def audio(
    source: Path = typer.Argument(
        ...,
        help="A recording (WAV, FLAC, Ogg/Opus, Ogg/Vorbis, MP3), or a folder of them (batch).",
    ),
    output: Path | None = typer.Option(
        None,
        "-o",
        "--output",
        help="Redacted recording (one file), in the input's format (.flac for a FLAC input).",
    ),
    out_dir: Path | None = typer.Option(None, "--out", help="Output folder (batch mode)."),
    mode: str = typer.Option("silence", "--mode", help="Replace card data by 'silence' or 'beep'."),
    beep_hz: float = typer.Option(1000.0, "--beep-hz", help="Beep frequency (100-3400 Hz)."),
    beep_level: float = typer.Option(-18.0, "--beep-level", help="Beep level, dBm0 (<= 0)."),
    speech: bool = typer.Option(
        True, "--speech/--dtmf-only", help="Also find spoken card data (slower)."
    ),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes (default: all cores)."),
    resume: bool = typer.Option(False, "--resume", help="Skip files already redacted."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    speech_model: Path | None = typer.Option(
        None, "--speech-model", help="An adapted speech model (see 'redact adapt-model')."
    ),
) -> None:
    """Silence (or beep out) DTMF tones and spoken card data in recordings.

    WAV (16/24-bit PCM, mu-law, A-law, GSM 6.10), FLAC (16/24-bit), Ogg/Opus, Ogg/Vorbis
    or MP3; mono or stereo (each channel on its own), any rate. The output keeps the input's
    format, rate and encoding. Outside the redacted spans every sample is unchanged in the
    lossless formats; GSM 6.10, Opus, Vorbis and MP3 are decoded, redacted and encoded again.
    """
    from cardshield.redaction.audio import RedactOptions

    if mode not in ("silence", "beep"):
        _fail("--mode must be 'silence' or 'beep'")
    try:
        options = RedactOptions(
            mode="beep" if mode == "beep" else "silence",
            beep_hz=beep_hz,
            beep_dbm0=beep_level,
            speech=speech,
            speech_model=speech_model,
        )
    except ValueError as exc:
        _fail(str(exc))
    if speech_model is not None and speech:
        from cardshield.redaction.speech_model import AdaptationError, load_model

        try:
            load_model(speech_model)
        except AdaptationError as exc:
            _fail(exc.message)
    if source.is_dir():
        if out_dir is None:
            _fail("a folder needs --out DIR")
        _batch(source, out_dir, options, jobs, resume, as_json)
    else:
        if output is None:
            _fail("a file needs -o OUT (in the input's format)")
        _single(source, output, options, as_json)


def _single(source: Path, output: Path, options: RedactOptions, as_json: bool) -> None:
    from cardshield.redaction.audio import redact_audio
    from cardshield.redaction.formats import read_recording, write_recording

    try:
        recording = read_recording(source)
    except CardshieldError as exc:
        _fail(exc.message)
    if output.suffix.lower() not in recording.suffixes:
        # No conversion: the format decides what stays bit-exact, so it stays the input's.
        _fail(
            f"{output.name}: the output keeps the input's format ({recording.kind}); "
            f"name it {output.stem}{recording.suffixes[0]}"
        )
    try:
        result = redact_audio(recording.audio, options)
        write_recording(output, result.audio, like=recording, cuts=result.segments)
    except CardshieldError as exc:
        _fail(exc.message)
    if as_json:
        from cardshield.redaction.batch import FileResult, model_name

        totals = FileResult(source.name, "", "done", result.duration_ms, result.segments).totals()
        doc = {
            "segments": [s.to_dict() for s in result.segments],
            "totals": totals,
            "model": model_name(options),
        }
        typer.echo(json.dumps(doc))
        return
    for s in result.segments:
        typer.echo(
            f"{s.start_ms:>9} ms {s.end_ms:>9} ms  ch{s.channel}  {s.reason:<6} {s.confidence:.2f}"
        )
    typer.echo(f"redacted {len(result.segments)} span(s) into {output}")


def _batch(
    source: Path, out_dir: Path, options: RedactOptions, jobs: int, resume: bool, as_json: bool
) -> None:
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cardshield.redaction.batch import REPORT_JSON, FileResult, run_batch

    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=as_json,
    ) as progress:
        task = progress.add_task("redacting", total=None)

        def started(total: int) -> None:
            progress.update(task, total=total)

        def done(_result: FileResult) -> None:
            progress.advance(task)

        try:
            report = run_batch(
                source,
                out_dir,
                options,
                jobs=workers,
                resume=resume,
                on_start=started,
                on_done=done,
            )
        except (CardshieldError, OSError) as exc:
            _fail(getattr(exc, "message", None) or "cannot run the batch")
    summary = {
        "files": len(report.files),
        "skipped": sum(1 for f in report.files if f.skipped),
        "failed": report.failed,
        "segments": sum(len(f.segments) for f in report.files),
        "report": str(out_dir / REPORT_JSON),
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"{summary['files']} file(s), {summary['skipped']} skipped, {summary['failed']} "
            f"failed, {summary['segments']} span(s); report in {summary['report']}"
        )
    if report.failed:
        raise typer.Exit(1)


@app.command("adapt-model")
def adapt_model(
    recordings: Path = typer.Argument(
        ..., help="A list of transcribed recordings: one 'FILE.wav<TAB>words' per line."
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Folder to write the adapted model to."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Adapt the speech model to your own lines, from transcribed call recordings.

    Each line of the list names a WAV file (relative to the list's folder) and, after a tab,
    what is said in it, numbers written as words ("four two four two"). A few minutes of
    speech from your own calls fit the recogniser to your callers and your telephone
    channel. Use the result with 'cardshield redact audio --speech-model DIR'. Needs CMU
    SphinxTrain (the Debian packages sphinxtrain, sphinxbase-utils and pocketsphinx).
    """
    from cardshield.redaction.speech_model import AdaptationError, Utterance, adapt

    if not recordings.is_file():
        _fail(f"{recordings} is not a file")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        _fail("--out must be a new or empty folder")
    corpus: list[Utterance] = []
    text = recordings.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, tab, words = line.partition("\t")
        if not tab or not words.strip():
            _fail(f"line {number}: expected 'FILE.wav<TAB>words'")
        path = (recordings.parent / name.strip()).resolve()
        if not path.is_file():
            _fail(f"line {number}: {name.strip()} not found")
        corpus.append(Utterance(path, words.strip()))
    try:
        summary = adapt(corpus, out, progress=lambda step: typer.echo(f"... {step}", err=True))
    except AdaptationError as exc:
        _fail(exc.message)
    if as_json:
        typer.echo(json.dumps({"model": str(out), **summary}))
        return
    typer.echo(
        f"adapted on {summary['utterances']} recording(s), {summary['seconds']} s of speech "
        f"({summary['not_aligned']} could not be aligned); model in {out}"
    )
