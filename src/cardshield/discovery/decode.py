"""Turn any text encoding the scanner meets into ASCII-compatible bytes.

Digits and card separators are single bytes with the same values in ASCII, UTF-8 and
Latin-1 (and every Windows code page), so those encodings are scanned as they are, with no
decoding cost. UTF-16 is recognised by its byte-order mark or, without one, by where its NUL
bytes fall (ASCII text in UTF-16LE has a NUL at every odd offset), and is transcoded to
UTF-8 incrementally, so a character split across two reads is never lost. Windows line
endings need nothing: line numbers count ``\\n``.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from enum import StrEnum


class Encoding(StrEnum):
    BYTES = "ascii-compatible"  # UTF-8, Latin-1, ASCII and their kin
    UTF16LE = "utf-16-le"
    UTF16BE = "utf-16-be"


_SNIFF = 4096


def _utf32le(head: bytes) -> bool:
    """FF FE 00 00 opens UTF-32LE, and UTF-16LE text whose first character is U+0000; in
    UTF-32 the next character's upper two bytes are zero too."""
    return head.startswith(codecs.BOM_UTF32_LE) and head[6:8] in (b"", b"\x00\x00")


def sniff_encoding(head: bytes) -> tuple[Encoding, int]:
    """The encoding of a stream from its first bytes, and the length of its byte-order mark."""
    if head.startswith(codecs.BOM_UTF8):
        return Encoding.BYTES, len(codecs.BOM_UTF8)
    if head.startswith(codecs.BOM_UTF16_LE) and not _utf32le(head):
        return Encoding.UTF16LE, 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return Encoding.UTF16BE, 2
    sample = head[:_SNIFF]
    pairs = len(sample) // 2
    if pairs < 2:
        return Encoding.BYTES, 0
    even_nuls = sample[0 : pairs * 2 : 2].count(0)
    odd_nuls = sample[1 : pairs * 2 : 2].count(0)
    # Mostly-ASCII UTF-16: NULs on one side only. Binary data has NULs on both sides.
    if odd_nuls >= pairs * 0.3 and even_nuls <= pairs * 0.05:
        return Encoding.UTF16LE, 0
    if even_nuls >= pairs * 0.3 and odd_nuls <= pairs * 0.05:
        return Encoding.UTF16BE, 0
    return Encoding.BYTES, 0


def ascii_compatible(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks of a stream re-encoded, if needed, so that digits are single ASCII bytes."""
    it = iter(chunks)
    first = b""
    for chunk in it:  # gather enough to sniff
        first += chunk
        if len(first) >= _SNIFF:
            break
    encoding, bom = sniff_encoding(first)
    if encoding is Encoding.BYTES:
        yield first[bom:]
        yield from it
        return
    decoder = codecs.getincrementaldecoder(encoding.value)(errors="replace")
    yield decoder.decode(first[bom:]).encode("utf-8", "surrogatepass")
    for chunk in it:
        yield decoder.decode(chunk).encode("utf-8", "surrogatepass")
    yield decoder.decode(b"", final=True).encode("utf-8", "surrogatepass")
