"""PDF: the text of each page, as a member named ``file.pdf!page-N``."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

from cardshield.discovery.blob import READ_ERRORS, Blob, Hint
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError

# pypdf reports recoverable damage through logging; the scanner reports warnings itself.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class PdfExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        try:
            from pypdf import PdfReader
        except ImportError as exc:  # pragma: no cover - pypdf is a dependency
            raise ExtractError("PDF support is not installed (pypdf)") from exc
        try:
            source = blob.seekable()
        except READ_ERRORS as exc:
            raise ExtractError(f"unreadable ({type(exc).__name__})") from exc
        with source:
            try:
                reader = PdfReader(source)
                if reader.is_encrypted and not reader.decrypt(""):
                    raise ExtractError("not scanned: encrypted PDF")
                pages = list(reader.pages)
            except ExtractError:
                raise
            except Exception as exc:  # pypdf raises many types on damaged files
                raise ExtractError(f"corrupt PDF ({type(exc).__name__})") from exc
            for number, page in enumerate(pages, start=1):
                ctx.check_time()
                try:
                    text = page.extract_text() or ""
                except Exception as exc:
                    ctx.warn(
                        f"{blob.name}!page-{number}", f"text not extractable ({type(exc).__name__})"
                    )
                    continue
                data = text.encode("utf-8", "surrogatepass")
                ctx.charge(len(data))
                yield Blob(
                    f"{blob.name}!page-{number}",
                    io.BytesIO(data),
                    depth=blob.depth + 1,
                    hint=Hint.TEXT,
                )
