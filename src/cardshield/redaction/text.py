"""Find and mask card data in any string: PANs, track data and security codes.

This is the last line of defence for every log line, error message and transcript, so it
leans towards masking, but it must not shred ordinary numbers. The rules:

* A PAN is 12-19 digits that pass the brand table (prefix *and* length) and Luhn.
* Digits may be contiguous, or grouped the way cards are printed (4-4-4-4, 4-4-4-3,
  4-6-5, 4-6-4, ...) with one kind of separator: space, dash, dot, or their URL escapes.
* A number is never cut out of a longer digit run, out of a decimal (``0.53091...``), a
  dotted sequence (IP and version strings), a word (hex hashes) or a UUID.
* Track 1 (``%B<PAN>^NAME^YYMM...?``) and Track 2 (``;<PAN>=YYMM...?``) lose everything
  but the masked PAN.
* Security codes are masked where a key names them: ``cvv=123``, ``"cvc": "123"``,
  ``card[cvc]=123``, ``<cvv2>123</cvv2>``, ``CVV: 123``.

The masked form keeps at most the first six and last four digits (see
:mod:`cardshield.cards.masking`) and keeps the original separators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cardshield.cards.brands import MAX_LENGTH, MIN_LENGTH, Brand, brand_for
from cardshield.cards.luhn import luhn_valid
from cardshield.cards.masking import mask_digits, mask_in_place
from cardshield.cards.pan import PAN

_SEP = r"(?:[ .\-]|%20|%2[DdEe])"
# Maximal runs of digits joined by single separators, at least MIN_LENGTH digits long.
# The lookbehind makes the scan linear: a run never starts in the middle of a digit run.
_RUN = re.compile(rf"(?<![0-9])[0-9](?:{_SEP}?[0-9]){{{MIN_LENGTH - 1},}}")
# Separators first, so that the digits of "%20" are never read as card digits.
_TOKEN = re.compile(rf"(?P<sep>{_SEP})|(?P<digits>[0-9]+)")
_THREE_DIGITS = re.compile(r"[0-9]{3}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_TRACK1 = re.compile(
    r"(?<![A-Za-z0-9])%?B(?P<pan>[0-9]{12,19})\^(?P<name>[^\^\r\n]{1,26})\^"
    r"(?P<rest>[0-9]{4}[^?\r\n]*)\??"
)
_TRACK2 = re.compile(r"(?<![A-Za-z0-9])(?P<start>;?)(?P<pan>[0-9]{12,19})=(?P<rest>[0-9]{7,})\??")

_CVV_KEYS = (
    r"cvv2?|cvc2?|cvn2?|csc|cid|cav2|"
    r"security[ _\-]?code|securitycode|card[ _\-]?code|card[ _\-]?cv[cv]2?|"
    r"card[ _\-]?verification(?:[ _\-]?(?:value|code))?|verification[ _\-]?(?:value|code)"
)
# Quotes may be escaped (\"cvc\":\"123\") when JSON is embedded in a JSON string or a log.
_Q = r"(?:\\*[\"'])?"
_CVV = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    rf"(?P<key>(?:card(?:\[|%5B))?{_Q}(?:{_CVV_KEYS}){_Q}(?:\]|%5D)?{_Q})"
    rf"(?P<sep>\s*(?:[:=>]|=>|%3A|%3D)\s*{_Q}|\s+(?:is\s+|of\s+)?)"
    r"(?P<value>[0-9]{3,4})(?![0-9])"
)
_CVV_KEY = re.compile(rf"(?i)^(?:card(?:\[|%5B))?(?:{_CVV_KEYS})(?:\]|%5D)?$")

_DOT_SEPS = frozenset({".", "%2E"})
# Every key _CVV accepts contains one of these (lower-cased).
_CVV_HINTS = ("cv", "csc", "cid", "cav", "code", "verification")


@dataclass(frozen=True, slots=True)
class CardMatch:
    """A card number found in a text: where it is, what it is, and its digits."""

    start: int
    end: int
    pan: PAN
    kind: str  # "pan", "track1" or "track2"
    positions: tuple[int, ...]  # indexes of the card digits in the text

    @property
    def brand(self) -> Brand:
        return self.pan.brand

    def masked(self) -> str:
        return self.pan.masked()


def _card(digits: str) -> PAN | None:
    if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
        return None
    brand = brand_for(digits)
    if brand is None or not luhn_valid(digits):
        return None
    return PAN._trusted(digits, brand)


def _valid_grouping(lengths: list[int]) -> bool:
    """Groupings cards are printed in: 4-4-4-4(-3), 4-4-4-3, 4-6-5, 4-6-4 and kin."""
    if len(lengths) == 1:
        return True
    if lengths[0] == 4 and len(lengths) == 3 and lengths[1] == 6 and lengths[2] in (4, 5):
        return True
    return all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _left_ok(text: str, start: int) -> bool:
    """No letter or digit glued to the left, and not the fraction part of a decimal."""
    if start == 0:
        return True
    ch = text[start - 1]
    if _word_char(ch):
        return False
    return not (ch in ".," and start >= 2 and text[start - 2].isdigit())


def _right_ok(text: str, end: int) -> bool:
    if end >= len(text):
        return True
    ch = text[end]
    if _word_char(ch):
        return False
    return not (ch in ".," and end + 1 < len(text) and text[end + 1].isdigit())


def _in_uuid(text: str, start: int, end: int) -> bool:
    lo = max(0, start - 36)
    for m in _UUID.finditer(text, lo, min(len(text), end + 36)):
        if m.start() < end and start < m.end():
            return True
    return False


def _scan_run(text: str, run_start: int, run_end: int) -> Iterator[CardMatch]:
    groups: list[tuple[int, int]] = []
    seps: list[str] = []
    for tok in _TOKEN.finditer(text, run_start, run_end):
        if tok.lastgroup == "sep":
            seps.append(tok.group().upper())
        else:
            groups.append(tok.span())
    i = 0
    while i < len(groups):
        found: tuple[int, PAN] | None = None
        digits = ""
        for j in range(i, len(groups)):
            digits += text[groups[j][0] : groups[j][1]]
            if len(digits) > MAX_LENGTH:
                break
            if j > i and seps[j - 1] != seps[i]:
                break  # one kind of separator inside a number
            if len(digits) < MIN_LENGTH:
                continue
            if not _valid_grouping([e - s for s, e in groups[i : j + 1]]):
                continue
            pan = _card(digits)
            if pan is not None:
                found = (j, pan)  # keep extending: the longest valid window wins
        if found is None:
            i += 1
            continue
        j, pan = found
        start, end = groups[i][0], groups[j][1]
        # A dot next to the window means a decimal, an IP or a version string.
        left_sep_dot = i > 0 and seps[i - 1] in _DOT_SEPS
        right_sep_dot = j < len(seps) and seps[j] in _DOT_SEPS
        if (
            left_sep_dot
            or right_sep_dot
            or (i == 0 and not _left_ok(text, start))
            or (j == len(groups) - 1 and not _right_ok(text, end))
            or _in_uuid(text, start, end)
        ):
            i += 1
            continue
        positions = tuple(p for s, e in groups[i : j + 1] for p in range(s, e))
        yield CardMatch(start, end, pan, "pan", positions)
        i = j + 1


def find_pans(text: str) -> Iterator[CardMatch]:
    """Every card number in ``text``, in order, not counting track data."""
    for run in _RUN.finditer(text):
        yield from _scan_run(text, run.start(), run.end())


def find_tracks(text: str) -> Iterator[CardMatch]:
    """Track 1 and Track 2 data (magnetic stripe equivalents), in order."""
    matches: list[CardMatch] = []
    if "^" not in text and "=" not in text:
        return iter(matches)
    for m in _TRACK1.finditer(text):
        pan = _card(m.group("pan"))
        if pan is not None:
            positions = tuple(range(m.start("pan"), m.end("pan")))
            matches.append(CardMatch(m.start(), m.end(), pan, "track1", positions))
    for m in _TRACK2.finditer(text):
        pan = _card(m.group("pan"))
        if pan is not None:  # without a valid PAN "digits=digits" is an id, not a track
            positions = tuple(range(m.start("pan"), m.end("pan")))
            matches.append(CardMatch(m.start(), m.end(), pan, "track2", positions))
    matches.sort(key=lambda c: c.start)
    return iter(matches)


def find_cards(text: str) -> Iterator[CardMatch]:
    """Track data and PANs, in order, without overlaps (track data wins)."""
    tracks = list(find_tracks(text))
    yield from tracks
    for match in find_pans(text):
        if not any(t.start < match.end and match.start < t.end for t in tracks):
            yield match


def _mask_track(match: CardMatch) -> str:
    if match.kind == "track1":
        return f"%B{match.masked()}^[REDACTED]^[REDACTED]?"
    return f";{match.masked()}=[REDACTED]?"


def redact_cards(text: str) -> str:
    """Mask every PAN and replace every track in ``text``."""
    matches = sorted(find_cards(text), key=lambda c: c.start)
    if not matches:
        return text
    out: list[str] = []
    pos = 0
    for match in matches:
        out.append(text[pos : match.start])
        if match.kind == "pan":
            local = [p - match.start for p in match.positions]
            out.append(mask_in_place(text[match.start : match.end], local))
        else:
            out.append(_mask_track(match))
        pos = match.end
    out.append(text[pos:])
    return "".join(out)


def redact_cvvs(text: str) -> str:
    """Replace the value of every named security-code field with ``***``."""
    low = text.lower()
    if not any(hint in low for hint in _CVV_HINTS):
        return text  # cheap C-speed substring checks skip the regex on most lines
    return _CVV.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)


def is_cvv_key(key: str) -> bool:
    """True for a field name that holds a security code (``cvc``, ``card[cvv2]``, ...)."""
    return _CVV_KEY.match(key.strip()) is not None


def redact(text: str) -> str:
    """Mask all card data in ``text``: track data, PANs and named security codes."""
    if _THREE_DIGITS.search(text) is None:
        return text  # the common case for log lines: nothing that could be card data
    return redact_cvvs(redact_cards(text))


def contains_card_data(text: str) -> bool:
    """True when :func:`redact` would change ``text``."""
    return redact(text) != text


def redact_lines(lines: Iterable[str]) -> Iterator[str]:
    """Redact a stream line by line (for logs and transcripts of any size)."""
    for line in lines:
        yield redact(line)


__all__ = [
    "CardMatch",
    "contains_card_data",
    "find_cards",
    "find_pans",
    "find_tracks",
    "is_cvv_key",
    "mask_digits",
    "redact",
    "redact_cards",
    "redact_cvvs",
    "redact_lines",
]
