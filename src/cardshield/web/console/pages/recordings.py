"""Redacted recordings for review (auditors and admins): the folder report of
``cardshield redact audio DIR --out OUT`` as a table, each file's waveform with its cuts, and
the redacted audio to listen to.

The page knows one folder, the setting ``redaction_review_dir`` (OUT), and reads only what
that folder's ``redaction-report.json`` lists: a file is addressed by its name in the report,
compared as a string with the report's names, and must then also lie inside the folder once
resolved (a tampered report naming ``../`` or a link out of the folder resolves to nothing).
The source recordings are never named, looked for or reached: the report does not hold their
folder, and nothing here joins a path from anything but the review folder and a listed name.

Names and texts from the report pass through the card data redactor before they are shown;
a file whose name holds a card number is listed under its masked name and not linked. The
audio is served as 16-bit PCM WAV (browsers do not all play G.711 WAV), with ``no-store``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import Request
from starlette.responses import Response

from cardshield.config import ENV_PREFIX
from cardshield.errors import InvalidRequestError
from cardshield.phone.dsp import Audio, AudioError
from cardshield.phone.dsp.wav import wav_bytes
from cardshield.redaction import redact
from cardshield.redaction.batch import REPORT_JSON, BatchReport, FileResult
from cardshield.redaction.formats import read_recording
from cardshield.security.audit import append as audit
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.render import inline_svg, render
from cardshield.web.console.routing import console_router
from cardshield.web.console.services import services
from cardshield.web.console.waveform import waveform_svg

router = console_router(tags=["console"])
Reader = Annotated[Principal, Require(Permission.REPORTS_VIEW)]
SETTING = "redaction_review_dir"
ENV_NAME = ENV_PREFIX + SETTING.upper()
MAX_REPORT_BYTES = 32 * 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RecordingNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such recording in the redaction report."


@dataclass(frozen=True)
class Review:
    """The review folder and its report, or why there is none to show."""

    folder: Path | None
    report: BatchReport | None = None
    problem: str | None = None

    def entry(self, name: str) -> tuple[FileResult, Path]:
        """The report's entry named exactly ``name`` and its redacted file in the folder;
        RecordingNotFound for anything else."""
        if self.report is None or self.folder is None or not listable(name):
            raise RecordingNotFound
        found = next((f for f in self.report.files if f.file == name), None)
        if found is None:
            raise RecordingNotFound
        root = self.folder.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path == root:
            raise RecordingNotFound
        return found, path


def listable(name: str) -> bool:
    """A plain relative name below the folder (no ``..``, no absolute path, no backslash),
    holding no card data."""
    if not name or "\\" in name or "\0" in name:
        return False
    pure = PurePosixPath(name)
    if pure.is_absolute() or any(p in ("", ".", "..") for p in name.split("/")):
        return False
    return redact(name) == name


def load_review(folder: Path | None) -> Review:
    """Read the folder's report; a missing or unreadable one is a problem to show."""
    if folder is None:
        return Review(None)
    path = folder / REPORT_JSON
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return Review(folder, problem=f"{REPORT_JSON} is larger than the page reads.")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Review(folder, problem=f"There is no {REPORT_JSON} in the review folder yet.")
    except OSError as exc:
        return Review(folder, problem=f"{REPORT_JSON} cannot be read: {exc.strerror or 'I/O'}.")
    except ValueError:
        return Review(folder, problem=f"{REPORT_JSON} is not valid JSON.")
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
            raise TypeError("no files")
        files = [FileResult.from_dict(row) for row in doc["files"]]
        report = BatchReport(files, str(doc.get("options", "")), str(doc.get("model", "")))
        report.totals()
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError):
        return Review(folder, problem=f"{REPORT_JSON} is not a redaction report.")
    return Review(folder, report)


def _review(request: Request) -> Review:
    return load_review(services(request).runtime.settings.redaction_review_dir)


def _href(name: str) -> str:
    return "/console/recordings/" + quote(name, safe="/")


def _seconds(value: object) -> str:
    return f"{float(str(value)):.1f}"


def _row(f: FileResult) -> dict[str, Any]:
    totals = f.totals()
    by = totals["by_reason"]
    assert isinstance(by, dict)
    return {
        "name": redact(f.file),
        "href": _href(f.file) if listable(f.file) else None,
        "unlisted": "holds card data" if redact(f.file) != f.file else "not a plain name",
        "duration": f"{f.duration_ms / 1000:.1f}",
        "spans": len(f.segments),
        "dtmf": _seconds(by.get("dtmf", 0.0)),
        "speech": _seconds(by.get("speech", 0.0)),
        "unsure": totals["unsure"],
        "status": redact(f.status)[:16],
        "error": redact(f.error or "")[:300],
    }


def _summary(report: BatchReport) -> dict[str, Any]:
    totals = report.totals()
    by = totals["by_reason"]
    assert isinstance(by, dict)
    return {
        "files": totals["files"],
        "failed": totals["failed"],
        "spans": totals["spans"],
        "duration": f"{sum(f.duration_ms for f in report.files) / 1000:.1f}",
        "dtmf": _seconds(by.get("dtmf", 0.0)),
        "speech": _seconds(by.get("speech", 0.0)),
        "unsure": totals["unsure"],
    }


@router.get("/recordings")
def recordings(request: Request, _principal: Reader) -> Response:
    review = _review(request)
    report = review.report
    rows = [_row(f) for f in sorted(report.files, key=lambda f: f.file)] if report else []
    context = {
        "env_name": ENV_NAME,
        "setting": SETTING,
        "folder": redact(str(review.folder)) if review.folder is not None else None,
        "problem": review.problem,
        "model": redact(report.model) if report else "",
        "rows": rows,
        "totals": _summary(report) if report else None,
    }
    return render(request, "recordings.html", context)


def _audio(path: Path) -> Audio:
    if not path.is_file():
        raise AudioError("the redacted file is missing from the review folder")
    return read_recording(path).audio


def _audited(request: Request, principal: Principal, action: str, entry: FileResult) -> None:
    """Who looked at or listened to which redacted recording (PCI DSS 10.2.1: access to
    data from the card data environment is logged, even where the data was taken out)."""
    with services(request).engine.begin() as conn:
        audit(
            conn,
            now=principal.now,
            actor=principal.actor,
            action=action,
            merchant_id=principal.merchant_scope,
            target=redact(entry.file)[:128],
            details={"spans": len(entry.segments), "status": entry.status},
        )


@router.get("/recordings/{file:path}/audio")
def recording_audio(request: Request, file: str, principal: Reader) -> Response:
    """The redacted file as 16-bit PCM WAV (a single byte range when the browser asks)."""
    entry, path = _review(request).entry(file)
    if entry.status != "done":
        raise RecordingNotFound
    try:
        audio = _audio(path)
    except AudioError as exc:
        raise RecordingNotFound("The redacted file cannot be read.") from exc
    body = wav_bytes(Audio.from_linear(audio.linear(), audio.sample_rate))
    headers = {"cache-control": "no-store", "accept-ranges": "bytes"}
    wanted = _RANGE.fullmatch(request.headers.get("range", "").strip())
    if wanted is None or wanted.group(1) == "0" or not (wanted.group(1) or wanted.group(2)):
        # One entry per playback: a player asks for the start once, then seeks in ranges.
        _audited(request, principal, "console.recording_played", entry)
    if wanted is None or not (wanted.group(1) or wanted.group(2)):
        return Response(body, media_type="audio/wav", headers=headers)
    first, last = wanted.group(1), wanted.group(2)
    if first:
        start, end = int(first), min(len(body) - 1, int(last) if last else len(body) - 1)
    else:  # the last N bytes
        start, end = max(0, len(body) - int(last)), len(body) - 1
    if start >= len(body) or end < start:
        headers["content-range"] = f"bytes */{len(body)}"
        return Response(b"", status_code=416, headers=headers)
    headers["content-range"] = f"bytes {start}-{end}/{len(body)}"
    return Response(body[start : end + 1], status_code=206, media_type="audio/wav", headers=headers)


@router.get("/recordings/{file:path}")
def recording(request: Request, file: str, principal: Reader) -> Response:
    review = _review(request)
    entry, path = review.entry(file)
    _audited(request, principal, "console.recording_viewed", entry)
    channels: list[dict[str, Any]] = []
    problem = None
    if entry.status == "done":
        try:
            audio = _audio(path)
        except AudioError as exc:
            problem = redact(exc.message)
        else:
            linear = audio.linear()
            peak = int(np.abs(linear.astype(np.int32)).max()) if linear.size else 0
            for ch in range(audio.channels):
                cuts = [s for s in entry.segments if s.channel == ch]
                svg = waveform_svg(linear[:, ch], audio.sample_rate, cuts, channel=ch, peak=peak)
                channels.append({"number": ch + 1, "svg": inline_svg(svg), "cuts": len(cuts)})
    spans = [
        {
            "channel": s.channel + 1,
            "start": f"{s.start_ms / 1000:.2f}",
            "end": f"{s.end_ms / 1000:.2f}",
            "length": f"{s.seconds:.2f}",
            "reason": redact(str(s.reason))[:16],
            "basis": redact(s.basis)[:16],
            "confidence": f"{s.confidence:.2f}",
            "unsure": s.unsure,
        }
        for s in sorted(entry.segments, key=lambda s: (s.start_ms, s.channel))
    ]
    context = {
        "row": _row(entry),
        "channels": channels,
        "spans": spans,
        "audio_src": _href(entry.file) + "/audio" if channels else None,
        "problem": problem,
        "model": redact(review.report.model) if review.report else "",
    }
    return render(request, "recording.html", context)
