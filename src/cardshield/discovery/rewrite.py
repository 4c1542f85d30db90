"""Mask chosen card numbers in the bytes of a plain-text file, keeping everything else.

The text is decoded the way the scanner reads it (UTF-8 or Latin-1, UTF-16 by its byte-order
mark or its NUL bytes) and only when encoding it again gives back the very same bytes, so
line endings, a byte-order mark and every byte outside a masked number stay as they were.
Numbers are found with :func:`cardshield.redaction.text.find_cards`; each one that is wanted
keeps its first six and last four digits and its separators
(:func:`cardshield.cards.masking.mask_in_place`). Track data is sensitive authentication
data whatever the PAN shows, so in a wanted track the name, expiry and discretionary data
are starred out too (``^`` ``=`` ``?`` kept).
"""

from __future__ import annotations

from collections.abc import Callable

from cardshield.cards.masking import MASK_CHAR, mask_in_place
from cardshield.discovery.decode import Encoding, sniff_encoding
from cardshield.discovery.errors import RemediationError
from cardshield.redaction.text import CardMatch, find_cards


def decode_exact(data: bytes) -> tuple[str, str, bytes]:
    """(text, codec, byte-order mark) such that ``bom + text.encode(codec) == data``."""
    encoding, bom = sniff_encoding(data[:4096])
    body = data[bom:]
    codecs = ("utf-8", "latin-1") if encoding is Encoding.BYTES else (encoding.value,)
    for codec in codecs:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if text.encode(codec) == body:
            return text, codec, data[:bom]
    raise RemediationError("its text encoding cannot be kept exactly; nothing was changed")


def _masked(text: str, match: CardMatch) -> str:
    piece = text[match.start : match.end]
    local = [p - match.start for p in match.positions]
    out = mask_in_place(piece, local)
    if match.kind == "pan":
        return out
    after = local[-1] + 1
    rest = "".join(MASK_CHAR if ch.isalnum() else ch for ch in out[after:])
    return out[:after] + rest


def mask_text(text: str, wanted: Callable[[str], bool]) -> tuple[str, int]:
    """``text`` with every card number for which ``wanted(digits)`` holds masked, and how
    many were masked."""
    out: list[str] = []
    pos = 0
    count = 0
    for match in sorted(find_cards(text), key=lambda m: m.start):
        if not wanted(match.pan.reveal()):
            continue
        out.append(text[pos : match.start])
        out.append(_masked(text, match))
        pos = match.end
        count += 1
    out.append(text[pos:])
    return "".join(out), count


def mask_bytes(data: bytes, wanted: Callable[[str], bool]) -> tuple[bytes, int]:
    """The file's bytes with the wanted numbers masked, in the file's own encoding."""
    text, codec, bom = decode_exact(data)
    masked, count = mask_text(text, wanted)
    return bom + masked.encode(codec), count


__all__ = ["decode_exact", "mask_bytes", "mask_text"]
