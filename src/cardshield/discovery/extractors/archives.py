"""Archives and compressed streams: zip (with Office and OpenDocument files), tar, gz, bz2, xz.

Members are named ``outer.zip!inner/file``. A zip member whose declared size alone would
pass the expansion limit is refused before it is inflated; every other byte is charged as
it is read (see :class:`~cardshield.discovery.blob.CountingReader`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO

from cardshield.discovery.blob import READ_ERRORS, Blob, CountingReader
from cardshield.discovery.context import FileContext
from cardshield.discovery.errors import ExtractError, LimitExceeded
from cardshield.discovery.extractors import office


class ZipExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        try:
            source = blob.seekable()
        except READ_ERRORS as exc:
            raise ExtractError(f"unreadable ({type(exc).__name__})") from exc
        with source:
            try:
                archive = zipfile.ZipFile(source)
                infos = archive.infolist()
                flavour = office.flavour(archive)
            except READ_ERRORS as exc:
                raise ExtractError("corrupt or unsupported zip archive") from exc
            with archive:
                for info in infos:
                    if info.is_dir():
                        continue
                    name = f"{blob.name}!{info.filename}"
                    if info.flag_bits & 0x1:
                        ctx.warn(name, "not scanned: encrypted member")
                        continue
                    remaining = ctx.limits.max_expanded_bytes - ctx.expanded
                    if info.file_size > remaining:
                        raise LimitExceeded(
                            "stopped: a member's declared size passes the expanded size limit"
                            f" of {ctx.limits.max_expanded_bytes} bytes (possible zip bomb)"
                        )
                    try:
                        member = archive.open(info)
                    except READ_ERRORS as exc:
                        ctx.warn(name, f"unreadable member ({type(exc).__name__})")
                        continue
                    with member:
                        try:
                            child = Blob(
                                name,
                                CountingReader(member, ctx),
                                depth=blob.depth + 1,
                                hint=office.member_hint(flavour, info.filename),
                            )
                        except ExtractError as exc:  # this member is damaged; go on
                            ctx.warn(name, exc.message)
                            continue
                        yield child


class TarExtractor:
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        try:
            # Stream mode: members are read in order, nothing is seeked or extracted to disk.
            archive = tarfile.open(fileobj=blob.reader(), mode="r|")  # noqa: SIM115
        except READ_ERRORS as exc:
            raise ExtractError("corrupt or unsupported tar archive") from exc
        with archive:
            while True:
                try:
                    info = archive.next()
                except READ_ERRORS as exc:
                    raise ExtractError(f"corrupt tar archive ({type(exc).__name__})") from exc
                if info is None:
                    return
                if not info.isfile():
                    continue
                stream = archive.extractfile(info)
                if stream is None:
                    continue
                # Tar does not compress: its bytes are not charged as expansion.
                yield Blob(
                    f"{blob.name}!{info.name}",
                    CountingReader(stream, ctx, charge=False),
                    depth=blob.depth + 1,
                )


def _gzip(f: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]


def _bz2(f: IO[bytes]) -> IO[bytes]:
    return bz2.BZ2File(f, mode="rb")


def _xz(f: IO[bytes]) -> IO[bytes]:
    return lzma.LZMAFile(f, mode="rb")


_OPENERS: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {"gzip": _gzip, "bz2": _bz2, "xz": _xz}
_SUFFIXES = {
    "gzip": ((".tgz", ".tar"), (".gz", ""), (".z", "")),
    "bz2": ((".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", "")),
    "xz": ((".txz", ".tar"), (".xz", ""), (".lzma", "")),
}


def inner_name(kind: str, basename: str) -> str:
    """``app.log.gz`` -> ``app.log``; ``logs.tgz`` -> ``logs.tar``."""
    lower = basename.lower()
    for suffix, replacement in _SUFFIXES[kind]:
        if lower.endswith(suffix) and len(basename) > len(suffix):
            return basename[: -len(suffix)] + replacement
    return basename + ".out"


class CompressedExtractor:
    """A single compressed stream: one member, the decompressed content."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]:
        try:
            stream = _OPENERS[self.kind](blob.reader())
        except READ_ERRORS as exc:
            raise ExtractError(f"corrupt {self.kind} stream") from exc
        with stream:
            yield Blob(
                f"{blob.name}!{inner_name(self.kind, blob.basename)}",
                CountingReader(stream, ctx),
                depth=blob.depth + 1,
            )
