"""A file or archive member on its way through the scanner: a name, a stream, a peek.

Members are read as streams; only formats that need random access (zip, PDF) are spooled
(to memory, then to a temporary file past a few MiB), and SQLite and Outlook files, whose
readers need a path, are copied to a temporary file. Every read from a decompressing stream
goes through :class:`CountingReader`, which charges the scan's size and time limits and
turns the decompressors' many exception types into one :class:`ExtractError`.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import IO, BinaryIO

from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError
from cardshield.discovery.matcher import CHUNK_SIZE

HEAD_SIZE = 8192
_SPOOL_IN_MEMORY = 8 << 20

# What decompressors and archive readers raise on corrupt input.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
)


class Hint(StrEnum):
    """How to read a member when its container already knows what it is."""

    TEXT = "text"  # plain text: scan as it is
    MARKUP = "markup"  # HTML/XML file: scan the raw text and the text between tags
    OFFICE_XML = "office-xml"  # document XML: text between tags, a line per paragraph
    SHEET_XML = "sheet-xml"  # spreadsheet XML: as above, and numeric cells
    ODF_CONTENT = "odf-content"  # OpenDocument content.xml: as above, values from attributes


class CountingReader:
    """A read-only stream that charges limits and translates read errors."""

    def __init__(self, raw: IO[bytes], ctx: FileContext, *, charge: bool = True) -> None:
        self._raw = raw
        self._ctx = ctx
        self._charge = charge

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(size)
        except READ_ERRORS as exc:
            raise ExtractError(f"read failed ({type(exc).__name__})") from exc
        if self._charge:
            self._ctx.charge(len(data))
        else:
            self._ctx.check_time()
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


class _Replay:
    """A stream that first returns an already-read head, then the rest of the source."""

    def __init__(self, head: bytes, rest: IO[bytes] | CountingReader) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readable(self) -> bool:
        return True


def read_up_to(stream: IO[bytes] | CountingReader, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


class Blob:
    """One file or member: display name, nesting depth, a stream, and its first bytes."""

    def __init__(
        self,
        name: str,
        stream: IO[bytes] | CountingReader,
        *,
        depth: int = 0,
        path: str | None = None,
        hint: Hint | None = None,
    ) -> None:
        self.name = name
        self.depth = depth
        self.path = path  # a real file system path, for top-level files
        self.hint = hint
        self._stream = stream
        self.head = read_up_to(stream, HEAD_SIZE)

    @property
    def basename(self) -> str:
        return self.name.rsplit("!", 1)[-1].rsplit("/", 1)[-1]

    def reader(self) -> BinaryIO:
        """The whole content as a stream (the head is replayed first). Read it once."""
        replay: object = _Replay(self.head, self._stream)
        return replay  # type: ignore[return-value]  # duck-typed read-only stream

    def chunks(self, ctx: FileContext, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The content in pieces. A piece is valid only until the next one is asked for:
        files are read into one reused buffer (allocating a fresh megabyte per read costs
        more than the scan), so a consumer that keeps a piece must copy it."""
        if self.head:
            yield self.head
        if len(self.head) < HEAD_SIZE:
            return
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            buffer = bytearray(size)
            view = memoryview(buffer)
            while True:
                ctx.check_time()
                n = readinto(view)
                if not n:
                    return
                yield view[:n]  # type: ignore[misc]  # bytes-like, read-only use
        while True:
            ctx.check_time()
            data = self._stream.read(size)
            if not data:
                return
            yield data

    def seekable(self) -> BinaryIO:
        """A seekable copy (or the file itself, for top-level files). Caller closes it."""
        if self.path is not None:
            return open(self.path, "rb")
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        shutil.copyfileobj(self.reader(), spool, CHUNK_SIZE)
        spool.seek(0)
        return spool  # type: ignore[return-value]

    @contextmanager
    def on_disk(self) -> Iterator[str]:
        """A path to the content (a temporary copy for members), removed afterwards."""
        if self.path is not None:
            yield self.path
            return
        fd, tmp = tempfile.mkstemp(prefix="cardshield-scan-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(self.reader(), out, CHUNK_SIZE)
            yield tmp
        finally:
            os.unlink(tmp)
