"""A PDF cannot hold a scan past the per-file time limit: a 1 KB file whose one page draws
a form XObject hundreds of times, each full of text operators, costs pypdf minutes of CPU
inside a single page. The scan stops at the limit, keeps what it found before, and reports
the file; ordinary PDFs are scanned as ever."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from cardshield.discovery.context import ScanLimits, ScanOptions
from cardshield.discovery.scanner import scan_bytes_named

from . import builders as b

CLI = str(Path(sys.executable).with_name("cardshield"))
CARD = "4000056655665556"  # published test card
OTHER = "5555555555554444"


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(content, 9)
    head = b"<< /Length %d /Filter /FlateDecode%s >>\nstream\n" % (len(packed), extra)
    return head + packed + b"\nendstream"


def slow_pdf(draws: int = 400, operators: int = 20_000) -> bytes:
    """Page 1: a card number, as text. Page 2: ``/X0 Do`` ``draws`` times, X0 being a form
    of ``operators`` tiny TJ arrays: about 0.4 s of pypdf per draw, in ~1.5 KB."""
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    resources = b"/Resources << /Font << /F1 5 0 R >> /XObject << /X0 6 0 R >> >>"
    form = (
        b" /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 7 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 8 0 R "
        + resources + b" >>",
        _stream(b"/X0 Do " * draws),
        font,
        _stream(b"BT /F1 1 Tf " + b"[(a)1(b)]TJ " * operators + b"ET", form),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        + resources + b" >>",
        _stream(b"BT /F1 12 Tf 72 720 Td (card " + CARD.encode() + b") Tj ET"),
    ]  # fmt: skip
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()


@pytest.mark.timeout(60)
def test_a_slow_page_stops_at_the_file_time_limit(tmp_path: Path) -> None:
    data = slow_pdf()
    assert len(data) < 4096
    (tmp_path / "slow.pdf").write_bytes(data)
    (tmp_path / "slow.zip").write_bytes(b.zip_bytes({"inner/slow.pdf": data}))
    (tmp_path / "normal.pdf").write_bytes(b.pdf_bytes([["hello"], [f"pay {OTHER}"]]))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [CLI, "scan", str(tmp_path), "--format", "json", "--file-timeout", "1", "-j", "2"],
            capture_output=True, timeout=30, check=False, env={**os.environ},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the scan of a 1.5 KB PDF ran past 30 s with a 1 s per-file limit")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    found = {(f["path"], f["masked"][-4:]) for f in report["findings"]}
    assert (
        found
        == {
            (str(tmp_path / "normal.pdf") + "!page-2", OTHER[-4:]),  # ordinary PDFs still scanned
            (str(tmp_path / "slow.pdf") + "!page-1", CARD[-4:]),  # found before the limit: kept
            (str(tmp_path / "slow.zip") + "!inner/slow.pdf!page-1", CARD[-4:]),
        }
    )
    warned = {(Path(w["path"]).name, w["message"]) for w in report["warnings"]}
    limit = "stopped: time limit of 1 s per file reached"
    assert warned == {("slow.pdf", limit), ("slow.zip", limit)}
    assert report["stats"]["warnings"] == 2
    assert elapsed < 12, elapsed  # two files of 1 s each, on two workers, plus start-up


@pytest.mark.timeout(60)
def test_in_process_scan_of_a_member_stops_too() -> None:
    options = ScanOptions(limits=ScanLimits(seconds_per_file=0.5))
    started = time.monotonic()
    result = scan_bytes_named("mail.zip", b.zip_bytes({"a.pdf": slow_pdf()}), options)
    assert time.monotonic() - started < 5
    assert [w.message for w in result.warnings] == ["stopped: time limit of 0.5 s per file reached"]
    assert [f.path for f in result.findings] == ["mail.zip!a.pdf!page-1"]


@pytest.mark.timeout(60)
def test_many_small_pdfs_after_a_stopped_one_are_scanned() -> None:
    """The reader that was stopped is replaced: the next PDF is read as usual."""
    quick = ScanOptions(limits=ScanLimits(seconds_per_file=0.3))
    assert scan_bytes_named("slow.pdf", slow_pdf(), quick).warnings
    for i in range(20):
        result = scan_bytes_named(f"n{i}.pdf", b.pdf_bytes([[f"x {OTHER}"]]), ScanOptions())
        assert [f.path for f in result.findings] == [f"n{i}.pdf!page-1"]
        assert result.warnings == []
