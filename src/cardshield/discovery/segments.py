"""Scan one big text file on several cores: split it into segments, merge what they find.

A log of hundreds of megabytes is one file, so one worker would scan it alone. A plain-text
file (no container, no markup, an ASCII-compatible encoding) is cut instead at *breaker*
bytes: bytes that no digit run, URL escape or separator can hold (letters past ``f``,
quotes, ``=``, ``:`` ...), so no run crosses a cut. Each segment is scanned with context on
both sides (:data:`BEFORE` bytes before its start, :data:`AFTER` after its end, enough for
every rule's look around a number, a CSV line's start included) and keeps only the numbers
that start inside it; the CSV header comes from the file's first line. Line numbers are
made absolute by adding the newlines of the segments before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from cardshield.discovery.columns import CsvHeader
from cardshield.discovery.context import FileContext, ScanOptions
from cardshield.discovery.decode import Encoding, sniff_encoding
from cardshield.discovery.errors import LimitExceeded
from cardshield.discovery.extractors import detect
from cardshield.discovery.findings import FileResult
from cardshield.discovery.matcher import _RUN_BYTES, CHUNK_SIZE, StreamMatcher
from cardshield.discovery.scanner import MARKUP_START, MARKUP_SUFFIXES

# Files smaller than this are one unit of work; segments are about this size or larger.
MIN_SEGMENT = 16 << 20
BEFORE = 64 << 10  # a CSV line up to this long keeps its column
AFTER = 4 << 10
_SEARCH = 1 << 20  # how far past a planned cut a breaker byte is looked for
_HEAD = 8192
# Bytes no digit run can hold: the matcher's run bytes are digits, separators and URL
# escapes with their hex digits.
_BREAKERS = bytes(b for b in range(128) if b not in _RUN_BYTES)


@dataclass(frozen=True, slots=True)
class Segment:
    """Bytes ``[start, end)`` of a file, the unit of work of one worker."""

    index: int
    count: int
    start: int
    end: int
    header: CsvHeader | None


@dataclass(slots=True)
class SegmentResult:
    segment: Segment
    result: FileResult
    before_newlines: int  # newlines in the context read before ``start``
    own_newlines: int  # newlines in [start, end)


def splittable(basename: str, head: bytes) -> bool:
    """True for a file scanned as plain ASCII-compatible text from its first bytes."""
    if detect(head, basename) is not None:
        return False
    if basename.lower().endswith(MARKUP_SUFFIXES) or MARKUP_START.match(head):
        return False
    return sniff_encoding(head)[0] is Encoding.BYTES


def _breaker_after(stream: object, pos: int) -> int | None:
    """The offset just after the first breaker byte at or after ``pos`` (None if none
    within reach)."""
    stream.seek(pos)  # type: ignore[attr-defined]
    data: bytes = stream.read(_SEARCH)  # type: ignore[attr-defined]
    best = None
    for byte in _BREAKERS:
        i = data.find(bytes((byte,)))
        if i >= 0 and (best is None or i < best):
            best = i
            if i == 0:
                break
    return None if best is None else pos + best + 1


def plan(path: str, size: int, pieces: int) -> list[Segment] | None:
    """Segments for a big text file, or None when it is scanned whole."""
    pieces = min(pieces, size // MIN_SEGMENT)
    if pieces < 2:
        return None
    with open(path, "rb") as stream:
        head = stream.read(_HEAD)
        if not splittable(os.path.basename(path), head):
            return None
        start = len(b"\xef\xbb\xbf") if head.startswith(b"\xef\xbb\xbf") else 0
        cuts = [start]
        for k in range(1, pieces):
            cut = _breaker_after(stream, size * k // pieces)
            if cut is not None and cut > cuts[-1] and cut < size:
                cuts.append(cut)
    if len(cuts) < 2:
        return None
    cuts.append(size)
    header = CsvHeader.sniff(head[start:])
    count = len(cuts) - 1
    return [Segment(i, count, cuts[i], cuts[i + 1], header) for i in range(count)]


def _chunks(path: str, lo: int, hi: int, ctx: FileContext) -> Iterator[bytes]:
    with open(path, "rb") as stream:
        stream.seek(lo)
        left = hi - lo
        while left > 0:
            ctx.check_time()
            data = stream.read(min(CHUNK_SIZE, left))
            if not data:
                return
            left -= len(data)
            yield data


def scan_segment(path: str, display: str, segment: Segment, options: ScanOptions) -> SegmentResult:
    """Scan one segment (in a worker). Lines are relative to the context's first byte."""
    result = FileResult(path=display, bytes_read=segment.end - segment.start)
    ctx = FileContext(options, result, segment.end - segment.start)
    lo = max(0, segment.start - BEFORE) if segment.index else segment.start
    hi = segment.end + AFTER if segment.index < segment.count - 1 else segment.end
    matcher = StreamMatcher(
        lookalikes=options.lookalikes,
        header=segment.header if segment.index else None,
    )
    hits = []
    # Fed in three parts, so that the folded offsets where the segment starts and ends
    # are known (folding turns a multi-byte digit or space into one byte).
    bounds: list[int] = []
    parts = ((lo, segment.start), (segment.start, segment.end), (segment.end, hi))
    inf = float("inf")
    matcher.rules.counted = (inf, inf)  # look-alikes in the context are another's
    try:
        for lo_part, hi_part in parts:
            bounds.append(matcher.position)
            if len(bounds) == 2:
                matcher.rules.counted = (bounds[1], inf)
            elif len(bounds) == 3:
                matcher.rules.counted = (bounds[1], bounds[2])
            for chunk in _chunks(path, lo_part, hi_part, ctx):
                hits += matcher.feed(chunk)
        hits += matcher.close()
    except LimitExceeded as exc:
        ctx.warn(display, exc.message)
    except OSError as exc:
        ctx.warn(display, f"unreadable: {exc.strerror or type(exc).__name__}")
    own_start, own_end = (bounds + [matcher.position] * 3)[1:3]
    mine = [h for h in hits if own_start <= h.offset < own_end]
    ctx.report(display, mine)
    result.lookalikes.update(matcher.dropped)
    with open(path, "rb") as stream:
        stream.seek(lo)
        before = stream.read(segment.start - lo).count(b"\n")
        own = _count_newlines(stream, segment.end - segment.start)
    return SegmentResult(segment, result, before, own)


def _count_newlines(stream: object, size: int) -> int:
    total = 0
    while size > 0:
        data: bytes = stream.read(min(CHUNK_SIZE * 8, size))  # type: ignore[attr-defined]
        if not data:
            break
        total += data.count(b"\n")
        size -= len(data)
    return total


def merge(parts: Sequence[SegmentResult]) -> FileResult:
    """One file's result from all its segments' (any order)."""
    ordered = sorted(parts, key=lambda p: p.segment.index)
    merged = FileResult(path=ordered[0].result.path)
    lines_before = 0
    for part in ordered:
        offset = lines_before - part.before_newlines
        merged.findings += [replace(f, line=f.line + offset) for f in part.result.findings]
        merged.warnings += part.result.warnings
        merged.bytes_read += part.result.bytes_read
        merged.allowlisted += part.result.allowlisted
        merged.test_cards_ignored += part.result.test_cards_ignored
        merged.lookalikes.update(part.result.lookalikes)
        lines_before += part.own_newlines
    merged.findings.sort(key=lambda f: f.line)
    return merged
