"""Find and mask card data in any string: PANs, track data and security codes.

This is the last line of defence for every log line, error message and transcript, so it
leans towards masking, but it must not shred ordinary numbers. The rules:

* A PAN is 12-19 digits that pass the brand table (prefix *and* length) and Luhn.
* The text is first folded (:mod:`cardshield.redaction.fold`): digits of any script become
  ASCII digits and Unicode spaces become spaces, one character for one, so what is found
  in the folded text is masked in the original and everything else is kept as it was.
* Digits may be contiguous, or in groups joined by one to three separator characters, in
  any mix: whitespace (line breaks too), ``- . , + _ /`` and their URL escapes (``%20``,
  ``%2B``, ``%C2%A0``...). Every group but the last has at least four digits, as cards are
  printed (4-4-4-4, 4-6-5, 6-9, 8-8, ...); that keeps phone numbers, dates and thousands
  separators out.
* A number is never cut out of a longer digit run, out of a decimal (``0.53091...``), a
  dotted sequence (IP and version strings), a hex string (hex letters glued on both sides)
  or a UUID. A letter glued on one side does not save a valid number (``card4242...x``).
* Track 1 (``%B<PAN>^NAME^YYMM...?``) and Track 2 (``;<PAN>=YYMM...?``) lose everything
  but the masked PAN.
* Security codes are masked where a key names them: ``cvv=123``, ``"cvc": "123"``,
  ``card[cvc]=123``, ``<cvv2>123</cvv2>``, ``CVV: 123``.

The masked form keeps at most the first six and last four digits (see
:mod:`cardshield.cards.masking`) and keeps the original separators and digit forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cardshield.cards.brands import MAX_LENGTH, MIN_LENGTH, Brand
from cardshield.cards.masking import mask_digits, mask_in_place
from cardshield.cards.pan import PAN, pan_from_digits
from cardshield.redaction.fold import fold

# One separator character: whitespace, punctuation people group digits with, URL escapes
# of those (a "+" or "%20" in a query string, "%C2%A0" for a no-break space).
_UNIT = r"(?:[ \t\n\r\f\v.,+_/\-]|%(?:2[0BCDEFbcdef]|5[Ff]|0[9ADad]|[Cc]2%[Aa]0))"
_SEP = rf"(?:{_UNIT}{{1,3}})"
# Maximal runs of digits joined by separators, at least MIN_LENGTH digits long.
# The lookbehind makes the scan linear: a run never starts in the middle of a digit run.
_RUN = re.compile(rf"(?<![0-9])[0-9](?:{_SEP}?[0-9]){{{MIN_LENGTH - 1},}}")
# Separators first, so that the digits of "%20" are never read as card digits.
_TOKEN = re.compile(rf"(?P<sep>{_UNIT}+)|(?P<digits>[0-9]+)")
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

# A lone dot or comma next to a number makes it part of a decimal, an IP or a version.
_DECIMAL_SEPS = frozenset({".", ",", "%2E", "%2C"})
_HEX_LETTERS = frozenset("abcdefABCDEF")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
_HASH_LENGTH = 32
# A number broken across lines must keep the printed form (4-4-4-4, last group 1-4):
# otherwise the number ending one log line would join the date starting the next.
_LINE_BREAKS = ("\n", "\r", "%0A", "%0D")
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


def _in_hex(text: str, start: int, end: int) -> bool:
    """Digits inside a hash or a hex id, not a card: hex letters glued on both sides, or a
    hex letter on one side of a token of 32 or more hex digits (MD5, SHA-1, SHA-256)."""
    left = start > 0 and text[start - 1] in _HEX_LETTERS
    right = end < len(text) and text[end] in _HEX_LETTERS
    if left and right:
        return True
    if not (left or right):
        return False
    if not text[start:end].isdigit():
        return False  # grouped digits are not part of a hash
    lo, hi = start, end
    while lo > 0 and text[lo - 1] in _HEX_CHARS:
        lo -= 1
    while hi < len(text) and text[hi] in _HEX_CHARS:
        hi += 1
    return hi - lo >= _HASH_LENGTH and not _word_char(text, lo - 1) and not _word_char(text, hi)


def _word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()


def _in_uuid(text: str, start: int, end: int) -> bool:
    lo = max(0, start - 36)
    for m in _UUID.finditer(text, lo, min(len(text), end + 36)):
        if m.start() < end and start < m.end():
            return True
    return False


def _longest_card(
    text: str, groups: list[tuple[int, int]], breaks: list[bool], i: int
) -> tuple[int, PAN] | None:
    """The longest card made of whole groups from group ``i`` on, as (last group, PAN).

    ``breaks[k]`` says that the separator after group ``k`` holds a line break."""
    found: tuple[int, PAN] | None = None
    digits = ""
    all_four, broken = True, False
    for j in range(i, len(groups)):
        size = groups[j][1] - groups[j][0]
        if j > i:
            previous = groups[j - 1][1] - groups[j - 1][0]
            if previous < 4:
                break  # only the last group of a printed number is shorter than four digits
            all_four = all_four and previous == 4
            broken = broken or breaks[j - 1]
            if broken and (not all_four or size > 4):
                break
        digits += text[groups[j][0] : groups[j][1]]
        if len(digits) > MAX_LENGTH:
            break
        if len(digits) >= MIN_LENGTH:
            pan = pan_from_digits(digits)
            if pan is not None:
                found = (j, pan)  # keep extending: the longest valid window wins
    return found


def _scan_run(text: str, run_start: int, run_end: int) -> Iterator[CardMatch]:
    groups: list[tuple[int, int]] = []
    seps: list[str] = []
    for tok in _TOKEN.finditer(text, run_start, run_end):
        if tok.lastgroup == "sep":
            seps.append(tok.group().upper())
        else:
            groups.append(tok.span())
    breaks = [any(b in sep for b in _LINE_BREAKS) for sep in seps]
    i = 0
    while i < len(groups):
        found = _longest_card(text, groups, breaks, i)
        if found is None:
            i += 1
            continue
        j, pan = found
        start, end = groups[i][0], groups[j][1]
        if (
            (i > 0 and seps[i - 1] in _DECIMAL_SEPS)
            or (j < len(seps) and seps[j] in _DECIMAL_SEPS)
            or _in_hex(text, start, end)
            or _in_uuid(text, start, end)
        ):
            i += 1
            continue
        positions = tuple(p for s, e in groups[i : j + 1] for p in range(s, e))
        yield CardMatch(start, end, pan, "pan", positions)
        i = j + 1


def _pans(folded: str) -> Iterator[CardMatch]:
    for run in _RUN.finditer(folded):
        yield from _scan_run(folded, run.start(), run.end())


def _tracks(folded: str) -> list[CardMatch]:
    matches: list[CardMatch] = []
    if "^" not in folded and "=" not in folded:
        return matches
    for m in _TRACK1.finditer(folded):
        pan = pan_from_digits(m.group("pan"))
        if pan is not None:
            positions = tuple(range(m.start("pan"), m.end("pan")))
            matches.append(CardMatch(m.start(), m.end(), pan, "track1", positions))
    for m in _TRACK2.finditer(folded):
        pan = pan_from_digits(m.group("pan"))
        if pan is not None:  # without a valid PAN "digits=digits" is an id, not a track
            positions = tuple(range(m.start("pan"), m.end("pan")))
            matches.append(CardMatch(m.start(), m.end(), pan, "track2", positions))
    matches.sort(key=lambda c: c.start)
    return matches


def find_pans(text: str) -> Iterator[CardMatch]:
    """Every card number in ``text``, in order, not counting track data."""
    return _pans(fold(text))


def find_tracks(text: str) -> Iterator[CardMatch]:
    """Track 1 and Track 2 data (magnetic stripe equivalents), in order."""
    return iter(_tracks(fold(text)))


def find_cards(text: str) -> Iterator[CardMatch]:
    """Track data and PANs, in order, without overlaps (track data wins).

    Offsets and positions index ``text`` itself (folding keeps every index).
    """
    folded = fold(text)
    tracks = _tracks(folded)
    yield from tracks
    yield from _untracked_pans(folded, tracks)


def find_cards_between(text: str, lo: int, hi: int) -> Iterator[CardMatch]:
    """What :func:`find_cards` finds in the digit runs that overlap ``text[lo:hi]``, and all
    track data: the same rules with the whole text as context, but the runs elsewhere in it
    are not taken apart (a scanner's window around one candidate holds several)."""
    folded = fold(text)
    tracks = _tracks(folded)
    yield from tracks
    for run in _RUN.finditer(folded):
        if run.end() <= lo:
            continue
        if run.start() >= hi:
            break
        for match in _scan_run(folded, run.start(), run.end()):
            if not any(t.start < match.end and match.start < t.end for t in tracks):
                yield match


def _untracked_pans(folded: str, tracks: list[CardMatch]) -> Iterator[CardMatch]:
    for match in _pans(folded):
        if not any(t.start < match.end and match.start < t.end for t in tracks):
            yield match


def _mask_track(match: CardMatch) -> str:
    if match.kind == "track1":
        return f"%B{match.masked()}^[REDACTED]^[REDACTED]?"
    return f";{match.masked()}=[REDACTED]?"


def redact_cards(text: str) -> str:
    """Mask every PAN and replace every track in ``text``."""
    return _redact_cards(text, fold(text))


def _redact_cards(text: str, folded: str) -> str:
    tracks = _tracks(folded)
    matches = sorted([*tracks, *_untracked_pans(folded, tracks)], key=lambda c: c.start)
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
    folded = fold(text)
    low = folded.lower()
    if not any(hint in low for hint in _CVV_HINTS):
        return text  # cheap C-speed substring checks skip the regex on most lines
    if folded is text:
        return _CVV.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)
    out: list[str] = []
    pos = 0
    for m in _CVV.finditer(folded):  # same indexes: replace the values in the original
        out += [text[pos : m.start("value")], "***"]
        pos = m.end("value")
    out.append(text[pos:])
    return "".join(out)


def is_cvv_key(key: str) -> bool:
    """True for a field name that holds a security code (``cvc``, ``card[cvv2]``, ...)."""
    return _CVV_KEY.match(key.strip()) is not None


def redact(text: str) -> str:
    """Mask all card data in ``text``: track data, PANs and named security codes."""
    folded = fold(text)
    if _THREE_DIGITS.search(folded) is None:
        return text  # the common case for log lines: nothing that could be card data
    return redact_cvvs(_redact_cards(text, folded))


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
    "find_cards_between",
    "find_pans",
    "find_tracks",
    "is_cvv_key",
    "mask_digits",
    "redact",
    "redact_cards",
    "redact_cvvs",
    "redact_lines",
]
