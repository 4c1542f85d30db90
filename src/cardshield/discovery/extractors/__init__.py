"""Extractors: one module per container or document type, one registry entry each.

An extractor turns a :class:`~cardshield.discovery.blob.Blob` into child blobs (archive
members, e-mail and Outlook message parts, PDF pages) that the scanner scans in turn, or
reports findings itself (database cells). It raises
:class:`~cardshield.discovery.errors.ExtractError` for corrupt input; third-party exceptions
never escape it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from cardshield.discovery.blob import Blob
from cardshield.discovery.context import FileContext
from cardshield.discovery.extractors import archives, mail, outlook_msg, outlook_pst, pdf, sqlite


class Extractor(Protocol):
    def extract(self, blob: Blob, ctx: FileContext) -> Iterator[Blob]: ...


EXTRACTORS: dict[str, Extractor] = {
    "zip": archives.ZipExtractor(),
    "tar": archives.TarExtractor(),
    "gzip": archives.CompressedExtractor("gzip"),
    "bz2": archives.CompressedExtractor("bz2"),
    "xz": archives.CompressedExtractor("xz"),
    "pdf": pdf.PdfExtractor(),
    "sqlite": sqlite.SqliteExtractor(),
    "mbox": mail.MboxExtractor(),
    "eml": mail.EmlExtractor(),
    "msg": outlook_msg.MsgExtractor(),
    "pst": outlook_pst.PstExtractor(),
}

_MAIL_HEADER = re.compile(
    rb"^(?:Received|From|To|Subject|Date|Message-ID|MIME-Version|Return-Path|Delivered-To|"
    rb"Content-Type|Cc|Reply-To|X-[A-Za-z\-]+):[ \t]",
    re.IGNORECASE | re.MULTILINE,
)


def _looks_like_mail(head: bytes) -> bool:
    """At least three RFC 5322 headers before the first blank line, one of them From/To."""
    block = re.split(rb"\r?\n\r?\n", head, maxsplit=1)[0]
    names = {m.group(0).split(b":")[0].lower() for m in _MAIL_HEADER.finditer(block)}
    return len(names) >= 3 and bool(names & {b"from", b"to", b"received", b"message-id"})


def detect(head: bytes, basename: str) -> str | None:
    """The container type of a file from its first bytes (and, for e-mail, its name)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if outlook_msg.looks_like_msg(head, basename):
        return "msg"
    if outlook_pst.looks_like_pst(head):
        return "pst"
    if head.startswith(b"From ") and _looks_like_mail(head.split(b"\n", 1)[-1]):
        return "mbox"
    name = basename.lower()
    if name.endswith(".eml") or (not name.endswith((".log", ".txt")) and _looks_like_mail(head)):
        return "eml"
    return None
