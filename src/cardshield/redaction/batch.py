"""Batch redaction of a folder of recordings: parallel, resumable, with a report.

::

    report = run_batch(Path("calls"), Path("redacted"), RedactOptions(), jobs=2, resume=True)

Every recording under the source folder (a name ending in one of
:data:`~.formats.SUPPORTED_SUFFIXES`: WAV, FLAC, Ogg/Opus, Ogg/Vorbis, MP3) is redacted into
the same relative path under the output folder, in its own format (:mod:`.formats`), by a
pool of worker processes (each loads its own recogniser once). After each file the report
is rewritten, as ``redaction-report.json`` and ``redaction-report.csv`` in the output
folder, so an interrupted run loses nothing: with ``resume`` a file whose
report entry is done, whose input still has the recorded SHA-256 and whose output exists is
skipped, as long as the report was made with the same settings (mode, beep, speech, rules
and speech model: the report records their fingerprint). The report lists spans, reasons,
confidence and duration per file; it never holds digits. A file that cannot be read (damaged,
or in a format or encoding not supported) is reported with its error and the batch goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from cardshield.errors import CardshieldError
from cardshield.redaction.audio import RedactOptions, Segment, redact_audio
from cardshield.redaction.formats import SUPPORTED_SUFFIXES, read_recording, write_recording
from cardshield.safetext import csv_text

REPORT_JSON = "redaction-report.json"
REPORT_CSV = "redaction-report.csv"


@dataclass
class FileResult:
    file: str  # relative to the source folder
    sha256: str
    status: str  # "done" or "error"
    duration_ms: int = 0
    segments: list[Segment] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False  # done by an earlier run (resume)

    def totals(self) -> dict[str, object]:
        """Seconds cut (channels counted apart), by reason, and how many cuts are unsure."""
        by_reason = {r: 0.0 for r in ("dtmf", "speech")}
        for seg in self.segments:
            by_reason[seg.reason] = by_reason.get(seg.reason, 0.0) + seg.seconds
        return {
            "seconds_cut": round(sum(by_reason.values()), 3),
            "by_reason": {k: round(v, 3) for k, v in by_reason.items()},
            "unsure": sum(1 for seg in self.segments if seg.unsure),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "segments": [s.to_dict() for s in self.segments],
            "totals": self.totals(),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, row: dict[str, object]) -> FileResult:
        raw = row.get("segments")
        segs = raw if isinstance(raw, list) else []
        return cls(
            file=str(row["file"]),
            sha256=str(row["sha256"]),
            status=str(row["status"]),
            duration_ms=int(str(row.get("duration_ms", 0))),
            segments=[
                Segment(
                    int(s["start_ms"]),
                    int(s["end_ms"]),
                    s["reason"],
                    float(s["confidence"]),
                    int(s.get("channel", 0)),
                    bool(s.get("unsure", False)),
                    str(s.get("basis", "")),
                )
                for s in segs
            ],
            error=None if row.get("error") is None else str(row.get("error")),
        )


def options_fingerprint(options: RedactOptions) -> str:
    """What a redaction depended on, hashed: the options and, with speech on, the model's
    own files (an adapted model rebuilt in the same folder is another model)."""
    values = {k: str(v) for k, v in sorted(dataclasses.asdict(options).items())}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
    if options.speech:
        from cardshield.redaction.speech_model import load_model, telephone_model

        model = (
            telephone_model() if options.speech_model is None else load_model(options.speech_model)
        )
        for key in sorted(model.overrides):
            digest.update(sha256_of(model.overrides[key]).encode())
    return digest.hexdigest()[:16]


def model_name(options: RedactOptions) -> str:
    """The speech model a run used, as the report names it (a folder's name, never a path)."""
    if not options.speech:
        return "none (DTMF only)"
    if options.speech_model is None:
        return "en-us-telephone (shipped)"
    return f"adapted: {options.speech_model.name}"


@dataclass
class BatchReport:
    files: list[FileResult]
    options: str = ""  # options_fingerprint() of the run that wrote it
    model: str = ""  # model_name() of the run that wrote it

    def totals(self) -> dict[str, object]:
        """The folder's totals: files, seconds cut by reason, unsure cuts."""
        per = [f.totals() for f in self.files]
        by_reason: dict[str, float] = {}
        for t in per:
            reasons = t["by_reason"]
            assert isinstance(reasons, dict)
            for k, v in reasons.items():
                by_reason[k] = round(by_reason.get(k, 0.0) + float(v), 3)
        return {
            "files": len(self.files),
            "failed": self.failed,
            "spans": sum(len(f.segments) for f in self.files),
            "seconds_cut": round(sum(by_reason.values()), 3),
            "by_reason": by_reason,
            "unsure": sum(int(str(t["unsure"])) for t in per),
        }

    @property
    def failed(self) -> int:
        return sum(1 for f in self.files if f.status != "done")

    def to_json(self) -> str:
        rows = sorted(self.files, key=lambda f: f.file)
        doc = {
            "options": self.options,
            "model": self.model,
            "totals": self.totals(),
            "files": [f.to_dict() for f in rows],
        }
        return json.dumps(doc, indent=2) + "\n"

    def to_csv(self) -> str:
        """One row per file; cells quoted and formula-safe (file names are the folder's)."""
        header = [
            "file", "status", "duration_ms", "spans", "reasons", "min_confidence",
            "seconds_cut", "dtmf_s", "speech_s", "unsure", "model",
        ]  # fmt: skip
        rows = [_csv_row(f, self.model) for f in sorted(self.files, key=lambda f: f.file)]
        return csv_text(header, rows)


def _csv_row(f: FileResult, model: str) -> list[object]:
    reasons = sorted({s.reason for s in f.segments})
    low = min((s.confidence for s in f.segments), default="")
    t = f.totals()
    by = t["by_reason"]
    assert isinstance(by, dict)
    return [
        f.file, f.status, f.duration_ms, len(f.segments), ";".join(reasons), low,
        t["seconds_cut"], by.get("dtmf", 0.0), by.get("speech", 0.0), t["unsure"], model,
    ]  # fmt: skip


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recordings(source: Path, exclude: Path | None = None) -> list[Path]:
    """The recordings under ``source`` (sorted), leaving out anything under ``exclude``."""
    skip = exclude.resolve() if exclude is not None else None
    found = []
    for path in source.rglob("*"):
        if not path.is_file() or path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        found.append(path)
    return sorted(found)


def redact_file(source: Path, target: Path, options: RedactOptions, name: str) -> FileResult:
    """Redact one recording (runs in a worker process)."""
    digest = sha256_of(source)
    try:
        recording = read_recording(source)
        result = redact_audio(recording.audio, options)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_recording(target, result.audio, like=recording, cuts=result.segments)
    except CardshieldError as exc:
        return FileResult(name, digest, "error", error=exc.message)
    return FileResult(name, digest, "done", result.duration_ms, result.segments)


def _load_previous(out_dir: Path, fingerprint: str) -> dict[str, FileResult]:
    """The previous run's results, if it ran with the same settings (else nothing resumes)."""
    path = out_dir / REPORT_JSON
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("options") != fingerprint:
            return {}
        return {r.file: r for r in map(FileResult.from_dict, doc["files"])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(out_dir: Path, report: BatchReport) -> None:
    _write_atomic(out_dir / REPORT_JSON, report.to_json())
    _write_atomic(out_dir / REPORT_CSV, report.to_csv())


def run_batch(
    source: Path,
    out_dir: Path,
    options: RedactOptions,
    *,
    jobs: int = 1,
    resume: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[FileResult], None] | None = None,
) -> BatchReport:
    """Redact every recording under ``source`` into ``out_dir``; returns the report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = recordings(source, exclude=out_dir)
    fingerprint = options_fingerprint(options)
    previous = _load_previous(out_dir, fingerprint) if resume else {}
    results: dict[str, FileResult] = {}
    todo: list[tuple[Path, Path, str]] = []
    for path in files:
        name = path.relative_to(source).as_posix()
        target = out_dir / name
        old = previous.get(name)
        if old and old.status == "done" and target.exists() and old.sha256 == sha256_of(path):
            old.skipped = True
            results[name] = old
        else:
            todo.append((path, target, name))
    if on_start is not None:
        on_start(len(files))
    for done in results.values():
        if on_done is not None:
            on_done(done)
    model = model_name(options)
    report = BatchReport(list(results.values()), fingerprint, model)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(redact_file, src, dst, options, name) for src, dst, name in todo]
        for future in as_completed(futures):
            result = future.result()
            results[result.file] = result
            report = BatchReport(list(results.values()), fingerprint, model)
            write_report(out_dir, report)
            if on_done is not None:
                on_done(result)
    write_report(out_dir, report)
    return report


__all__ = [
    "REPORT_CSV",
    "REPORT_JSON",
    "BatchReport",
    "FileResult",
    "model_name",
    "options_fingerprint",
    "recordings",
    "redact_file",
    "run_batch",
    "sha256_of",
    "write_report",
]
