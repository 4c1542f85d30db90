"""Scan one file: find out what it is, open containers recursively, match the text.

The type of a file or member comes from its first bytes (magic numbers), not its name, so
a renamed archive is still opened; names only help for HTML/XML, e-mail and Outlook
messages. Problems with one member become a warning and the scan goes on with the next; a
safety limit (:class:`LimitExceeded`) stops the whole top-level file.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections import Counter
from typing import BinaryIO

from cardshield.cards import PAN
from cardshield.discovery.blob import Blob, Hint
from cardshield.discovery.context import FileContext, ScanOptions
from cardshield.discovery.decode import ascii_compatible
from cardshield.discovery.errors import ExtractError, LimitExceeded
from cardshield.discovery.extractors import EXTRACTORS, detect
from cardshield.discovery.findings import FileResult
from cardshield.discovery.markup import odf_values, strip_markup
from cardshield.discovery.matcher import Hit, scan_chunks, scan_text
from cardshield.redaction.fold import fold_utf8

MARKUP_SUFFIXES = (".html", ".htm", ".xhtml", ".xml", ".svg", ".jsp", ".aspx", ".vue")
MARKUP_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<(?:[?!A-Za-z])")
# Markup bigger than this is scanned as plain text only (the tag pass holds it in memory).
_MAX_MARKUP = 64 << 20


def _markup_hint(blob: Blob) -> Hint:
    name = blob.basename.lower()
    if name.endswith(MARKUP_SUFFIXES) or MARKUP_START.match(blob.head):
        return Hint.MARKUP
    return Hint.TEXT


def _merge(raw: list[Hit], stripped: list[Hit]) -> list[Hit]:
    """Raw hits plus those only the tag-stripped text shows (same line, kind and number)."""
    seen: Counter[tuple[int, str, PAN]] = Counter((h.line, h.kind, h.pan) for h in raw)
    extra: list[Hit] = []
    for hit in stripped:
        key = (hit.line, hit.kind, hit.pan)
        if seen[key] > 0:
            seen[key] -= 1
        else:
            extra.append(hit)
    return raw + extra


def scan_textual(blob: Blob, ctx: FileContext) -> None:
    hint = blob.hint or _markup_hint(blob)
    chunks = ascii_compatible(blob.chunks(ctx))
    lookalikes, dropped = ctx.options.lookalikes, ctx.result.lookalikes
    if hint is Hint.TEXT:
        ctx.report(blob.name, list(scan_chunks(chunks, lookalikes=lookalikes, dropped=dropped)))
        return
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(bytes(chunk))  # pieces are reused buffers: keep copies
        size += len(chunk)
        if size > _MAX_MARKUP:  # too big to hold: plain text only, streaming on
            rest = itertools.chain(parts, chunks)
            ctx.report(blob.name, list(scan_chunks(rest, lookalikes=lookalikes, dropped=dropped)))
            return
    # Folded first, so that the tag-stripped text sees Unicode digits and spaces as ASCII.
    text = fold_utf8(b"".join(parts)).decode("latin-1")
    if hint is Hint.MARKUP:
        raw = list(scan_chunks([text.encode("latin-1")], lookalikes=lookalikes, dropped=dropped))
        stripped = scan_text(strip_markup(text, "\t"), lookalikes=lookalikes)
        ctx.report(blob.name, _merge(raw, stripped))
        return
    if hint is Hint.ODF_CONTENT:
        text = odf_values(text)
    numeric = hint in (Hint.SHEET_XML, Hint.ODF_CONTENT)
    stripped_text = strip_markup(text, "\n")
    hits = scan_text(stripped_text, numeric_cells=numeric, lookalikes=lookalikes, dropped=dropped)
    ctx.report(blob.name, hits)


def scan_blob(blob: Blob, ctx: FileContext) -> None:
    """Scan a file or member, opening containers; corrupt members become warnings."""
    if blob.depth:
        ctx.result.members += 1
    kind = None if blob.hint is not None else detect(blob.head, blob.basename)
    if kind is None:
        scan_textual(blob, ctx)
        return
    if blob.depth >= ctx.limits.max_depth:
        ctx.warn(blob.name, f"not opened: containers nested deeper than {ctx.limits.max_depth}")
        return
    children = EXTRACTORS[kind].extract(blob, ctx)
    while True:
        try:
            child = next(children, None)
        except ExtractError as exc:
            ctx.warn(blob.name, f"{kind}: {exc.message}")
            return
        if child is None:
            return
        try:
            scan_blob(child, ctx)
        except ExtractError as exc:
            ctx.warn(child.name, exc.message)


def _scan_stream(name: str, stream: BinaryIO, ctx: FileContext, path: str | None) -> None:
    try:
        scan_blob(Blob(name, stream, path=path), ctx)
    except LimitExceeded as exc:
        ctx.warn(name, exc.message)
    except ExtractError as exc:
        ctx.warn(name, exc.message)
    except OSError as exc:  # the file itself failed to read (I/O error, gone meanwhile)
        ctx.warn(name, f"unreadable: {exc.strerror or type(exc).__name__}")
    except RecursionError:
        ctx.warn(name, "stopped: structure nested too deeply")
    except Exception as exc:  # a parser bug must not end a scan of many files
        ctx.warn(name, f"stopped: unexpected {type(exc).__name__} while scanning")


def scan_file(path: str, display: str, options: ScanOptions) -> FileResult:
    """Scan one file system path (the unit of work of a worker process)."""
    result = FileResult(path=display)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            result.bytes_read = size
            ctx = FileContext(options, result, size)
            _scan_stream(display, stream, ctx, path)
    except OSError as exc:
        FileContext(options, result, 0).warn(display, f"unreadable: {exc.strerror or 'error'}")
    return result


def scan_stdin(options: ScanOptions, name: str = "<stdin>") -> FileResult:
    result = FileResult(path=name)

    class _Counting:
        def __init__(self, raw: BinaryIO) -> None:
            self.raw = raw

        def read(self, size: int = -1) -> bytes:
            data = self.raw.read(size)
            result.bytes_read += len(data)
            return data

    ctx = FileContext(options, result, 1 << 30)
    _scan_stream(name, _Counting(sys.stdin.buffer), ctx, None)  # type: ignore[arg-type]
    return result


def scan_bytes_named(name: str, data: bytes, options: ScanOptions) -> FileResult:
    """Scan an in-memory document as if it were a file called ``name`` (tests, databases)."""
    import io

    result = FileResult(path=name, bytes_read=len(data))
    ctx = FileContext(options, result, len(data))
    _scan_stream(name, io.BytesIO(data), ctx, None)
    return result
