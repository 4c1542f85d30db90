"""PDF: the text of each page, as a member named ``file.pdf!page-N``.

The pages are read by a helper process (:mod:`.pdfproc`) that is stopped at the file's
deadline, so one slow page cannot hold the scan past ``--file-timeout``.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from cardshield.discovery.blob import READ_ERRORS, Blob, Hint, read_up_to
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError
from cardshield.discovery.extractors import pdfproc
from cardshield.discovery.matcher import CHUNK_SIZE

# pypdf reports recoverable damage through logging; the scanner reports warnings itself.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_IN_MEMORY = 8 << 20  # a member up to this size goes to the reader as bytes, past it as a file


@contextmanager
def _source(blob: Blob) -> Iterator[pdfproc.Source]:
    """What the reader opens: the file's path, a member's bytes, or a temporary copy."""
    if blob.path is not None:
        yield blob.path
        return
    try:
        stream = blob.reader()
        data = read_up_to(stream, _IN_MEMORY + 1)
        if len(data) <= _IN_MEMORY:
            yield data
            return
        fd, tmp = tempfile.mkstemp(prefix="cardshield-scan-", suffix=".pdf")
    except READ_ERRORS as exc:
        raise ExtractError(f"unreadable ({type(exc).__name__})") from exc
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                shutil.copyfileobj(stream, out, CHUNK_SIZE)
        except READ_ERRORS as exc:
            raise ExtractError(f"unreadable ({type(exc).__name__})") from exc
        yield tmp
    finally:
        os.unlink(tmp)


class PdfExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        with _source(blob) as source:
            pages = pdfproc.read_pages(source, ctx.seconds_left)
            try:
                for kind, number, text in pages:
                    if kind == "error":
                        raise ExtractError(text)
                    if kind == "warn":
                        ctx.warn(f"{blob.name}!page-{number}", text)
                    elif kind == "page":
                        yield self._page(blob, number, text, ctx)
            except pdfproc.TimeUp:
                raise ctx.time_up() from None
            except pdfproc.ReaderDied:
                ctx.check_time()  # the CPU-time backstop ends the reader past the deadline
                raise ExtractError("stopped: the PDF reader ended unexpectedly") from None
            finally:
                pages.close()  # stops the reader if this file was given up midway

    @staticmethod
    def _page(blob: Blob, number: int, text: str, ctx: FileContext) -> Blob:
        ctx.check_time()
        data = text.encode("utf-8", "surrogatepass")
        ctx.charge(len(data))
        return Blob(f"{blob.name}!page-{number}", io.BytesIO(data), depth=blob.depth + 1,
                    hint=Hint.TEXT)  # fmt: skip
