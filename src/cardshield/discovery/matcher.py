"""Find card numbers in a byte stream, fast, with exact line numbers.

The matching rules are those of :func:`cardshield.redaction.text.find_cards`; this module
only decides where to look, so that a scanner can keep up with gigabytes of logs:

1. A *prefilter* (:mod:`cardshield.discovery.prefilter`) runs over each chunk at C speed
   and reports the places where a run of twelve or more digits (contiguous or grouped as
   cards are printed) starts with a digit a card can start with. Millisecond timestamps
   (they start with 1), short numbers, dates and IP addresses never get past it.
2. For a candidate run of contiguous digits the only possible card is the whole run, so
   brand and Luhn decide in a few microseconds; grouped runs and the survivors go to
   ``find_cards`` on a small window around the run (the window carries enough context for
   the UUID, decimal, IP and track-data rules).

Streams are read in chunks with an overlap: a run that reaches into the next chunk is
carried over whole, so a number that straddles a chunk boundary is found exactly once.
Input must be ASCII-compatible bytes (UTF-8, Latin-1, or UTF-16 transcoded by
:mod:`cardshield.discovery.decode`). Each chunk is folded first
(:class:`cardshield.redaction.fold.Utf8Folder`): digits of any script and Unicode spaces
become single ASCII bytes, so the prefilter and the rules see the shapes the text redactor
sees. Offsets are those of the folded stream (the same as the input's for ASCII).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

from cardshield.cards.brands import IIN_TABLE, MAX_LENGTH, MIN_LENGTH, Brand, brand_for
from cardshield.cards.luhn import luhn_check_digit, luhn_valid
from cardshield.cards.pan import PAN
from cardshield.discovery.columns import CsvHeader
from cardshield.discovery.lookalikes import RuleSet, default_rules, lookalike
from cardshield.discovery.prefilter import URL_ESCAPE, Prefilter, default_prefilter
from cardshield.redaction.fold import Utf8Folder
from cardshield.redaction.text import find_cards_between


@dataclass(frozen=True, slots=True)
class Hit:
    """A card number found in a stream: 1-based line, kind, the number, its byte offset
    (in the folded stream)."""

    line: int
    kind: str  # "pan", "track1" or "track2"
    pan: PAN
    offset: int


# The separators of cardshield.redaction.text, as bytes: one to three between two groups.
_UNIT = rb"(?:[ \t\n\r\f\v.,+_/\-]|" + URL_ESCAPE.pattern + rb")"
_RUN = re.compile(rb"[0-9](?:(?:" + _UNIT + rb"{1,3})?+[0-9])*+")
# Bytes a run may hold: what a left walk from a candidate's end steps over.
_RUN_BYTES = frozenset(b"0123456789 \t\n\r\f\v.,+_/-%ABCDEFabcdef")
_DIGITS = frozenset(b"0123456789")
_SCIENTIFIC = re.compile(r"(?<![0-9.])[2-6]\.([0-9]{1,18})[eE]\+?([0-9]{1,2})(?![0-9.])")
_IMEI = re.compile(r"(?i)imei|imeisv|meid")

# Context either side of a run that the matching rules look at (UUIDs are 36 characters,
# track 1 carries up to 26 characters of name after the number).
MARGIN = 80
CHUNK_SIZE = 1 << 20
_MAX_BACKLOG = 16 << 20
# A run longer than this is not carried across chunks any further (pathological input).
_MAX_CARRY = 1 << 20


def _two_digit_prefixes() -> frozenset[tuple[str, int]]:
    """(first two digits, length) pairs some brand issues: a cheap first test for a run."""
    pairs: set[tuple[str, int]] = set()
    for row in IIN_TABLE:
        low, high = (row.low + "0")[:2], (row.high + "9")[:2]
        for head in range(int(low), int(high) + 1):
            for length in row.lengths:
                pairs.add((f"{head:02d}", length))
    return frozenset(pairs)


_PREFIX_LENGTHS = _two_digit_prefixes()
_PREFIX_LENGTHS_B = frozenset((head.encode("ascii"), length) for head, length in _PREFIX_LENGTHS)


def _card(digits: str) -> PAN | None:
    if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
        return None
    brand = brand_for(digits)
    if brand is None or not luhn_valid(digits):
        return None
    return PAN._trusted(digits, brand)


def _from_scientific(
    mantissa_fraction: str, exponent: str, first: str, numeric_cells: bool
) -> PAN | None:
    """The card behind a number in scientific notation (spreadsheet cells), if any.

    Spreadsheets keep 15 significant digits, so a 16-digit card typed into a numeric cell
    loses its check digit (``4.24242424242424E+15``). In spreadsheet cells that shape is
    rebuilt with the check digit, since 15 digits of a card are as sensitive as 16.
    """
    try:
        value = Decimal(f"{first}.{mantissa_fraction}E{exponent}")
    except InvalidOperation:
        return None
    if value != value.to_integral_value():
        return None
    digits = str(int(value))
    pan = _card(digits)
    if pan is not None or not numeric_cells:
        return pan
    significant = (first + mantissa_fraction).rstrip("0")
    if len(digits) == 16 and len(significant) <= 15 and digits.endswith("0"):
        rebuilt = digits[:15] + luhn_check_digit(digits[:15])
        return _card(rebuilt)
    return None


def _looks_like_imei(window: str, start: int, pan: PAN) -> bool:
    """IMEIs are 15 Luhn-valid digits (16 for IMEISV): trust a label that says so."""
    if pan.length not in (15, 16):
        return False
    return _IMEI.search(window, max(0, start - 24), start) is not None


def _window(buf: bytes, run_start: int, run_end: int) -> tuple[str, int]:
    """The text the rules see around a run, and the offset in ``buf`` where it starts."""
    lo = max(0, run_start - MARGIN)
    window = buf[lo : min(len(buf), run_end + MARGIN)].decode("latin-1")
    if window.count(",") >= 2 and ";" not in window:
        # Comma-separated values: a comma is a field separator here, not a decimal comma
        # (European CSV, where it would be one, separates fields with semicolons).
        window = window.replace(",", "\t")
    return window, lo


_NOT_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)
_LINE_END = re.compile(rb"[ \t]*(?:\r\n|\n|\r)")
# Bytes after a card's digits that may make them part of track data (;PAN=... and %BPAN^).
_TRACK_FOLLOW = frozenset({b"=", b"^"})
# Luhn over ASCII digits without a decode: the doubled digit's digit sum, by byte value.
_DOUBLED = bytes((2 * (b - 48) - 9 if b >= 53 else 2 * (b - 48)) if 48 <= b <= 57 else 0
                 for b in range(256))  # fmt: skip


@lru_cache(maxsize=8192)
def _brand_of(head: bytes, length: int) -> Brand | None:
    """The brand of a number of ``length`` digits starting with ``head`` (six digits
    decide every row of the IIN table)."""
    return brand_for(head.decode("ascii").ljust(length, "0"))


@cache
def _without_glue() -> RuleSet:
    return default_rules().without_kind("glued")


# A run holding one of these, or two separators in a row, may join two fields or lines: a
# rule that explains its start (a phone cell) says nothing of a card in the next field.
_FIELD_BREAK = re.compile(rb"[\t\n\r,]|[^0-9%][^0-9]")


def _luhn_ok(digits: bytes) -> bool:
    """Luhn's check over ASCII digit bytes (the check digit last)."""
    plain = digits[-1::-2]
    doubled = digits[-2::-2].translate(_DOUBLED)
    return (sum(plain) - 48 * len(plain) + sum(doubled)) % 10 == 0


class WindowRules:
    """What decides, around one run, whether a PAN-shaped number is reported: the
    look-alike rules (on unless turned off), the column of the number (CSV header or a
    database column) and a counter of what each rule dropped."""

    def __init__(
        self,
        *,
        lookalikes: bool = True,
        column: str | None = None,
        header: CsvHeader | None = None,
    ) -> None:
        self.lookalikes = lookalikes
        self.column = column
        self.header = header
        self.dropped: Counter[str] = Counter()
        # Stream offset of the buffer being processed, and the stream offsets whose drops
        # count (a segment of a big file counts only its own part, not its context).
        self.base = 0
        self.counted: tuple[float, float] = (0, float("inf"))

    def drop(self, rule: str, offset: int) -> None:
        """Count a number at ``buf[offset]`` that ``rule`` explained."""
        if self.counted[0] <= self.base + offset < self.counted[1]:
            self.dropped[rule] += 1

    def column_at(self, buf: bytes, offset: int) -> str | None:
        if self.column is not None or self.header is None:
            return self.column
        return self.header.column_at(buf, offset)


def _window_hits(
    buf: bytes,
    run_start: int,
    run_end: int,
    numeric_cells: bool,
    rules: WindowRules | None = None,
) -> list[tuple[int, str, PAN]]:
    """Cards whose first digit lies in ``buf[run_start:run_end]``, as (offset, kind, pan).

    With ``rules``, a PAN that a look-alike rule explains (a phone number, an IBAN, an id)
    is counted under the rule's name instead of being returned."""
    window, lo = _window(buf, run_start, run_end)
    rs, re_ = run_start - lo, run_end - lo
    found: list[tuple[int, str, PAN]] = []
    for match in find_cards_between(window, rs, re_):
        first = match.positions[0]
        if not rs <= first < re_ or _looks_like_imei(window, first, match.pan):
            continue
        if rules is not None and rules.lookalikes and match.kind == "pan":
            column = rules.column_at(buf, first + lo)
            rule = lookalike(window, match.start, match.end, column=column)
            if rule is not None:
                rules.drop(rule, first + lo)
                continue
        found.append((first + lo, match.kind, match.pan))
    for sci in _SCIENTIFIC.finditer(window, rs, re_ + 24):
        if sci.start() < re_:
            pan = _from_scientific(sci.group(1), sci.group(2), window[sci.start()], numeric_cells)
            if pan is not None:
                found.append((sci.start() + lo, "pan", pan))
    found.sort(key=lambda item: item[0])
    return found


_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _inside_uuid(buf: bytes, start: int, end: int) -> bool:
    for m in _UUID.finditer(buf, max(0, start - 36), min(len(buf), end + 36)):
        if m.start() <= start and end <= m.end():
            return True
    return False


def _in_url_escape(buf: bytes, i: int) -> bool:
    """True when ``buf[i]`` is a hex digit of a URL escape (the ``2`` of ``%2B``)."""
    return (i >= 1 and buf[i - 1] == 0x25) or (
        i >= 2 and buf[i - 2] == 0x25 and URL_ESCAPE.match(buf, i - 2) is not None
    )


def _blank(m: re.Match[bytes]) -> bytes:
    return b"%" * (m.end() - m.start())


class StreamMatcher:
    """Feed chunks in order with :meth:`feed`, then call :meth:`close`; both return hits."""

    def __init__(
        self,
        *,
        numeric_cells: bool = False,
        prefilter: Prefilter | None = None,
        lookalikes: bool = True,
        column: str | None = None,
        header: CsvHeader | None = None,
    ) -> None:
        self._numeric_cells = numeric_cells
        # A CSV header is read from the stream's first line unless the caller knows it
        # (a segment of a big file) or knows the column (a database cell).
        self._find_header = lookalikes and column is None and header is None
        self.rules = WindowRules(lookalikes=lookalikes, column=column, header=header)
        self._prefilter = prefilter or default_prefilter()
        self._folder = Utf8Folder()
        self._carry = b""
        self._own_start = 0  # where unprocessed text starts in the carry
        self._offset = 0  # stream offset of the carry's first byte
        self._line = 1  # line number at the start of the uncounted text (or of the carry)
        # Text already passed whose newlines are not counted yet: most files hold no card,
        # so lines are counted only when a hit needs a number (or this backlog grows).
        self._uncounted: list[tuple[bytes, int]] = []
        self._uncounted_size = 0

    def _count_backlog(self) -> None:
        for buf, end in self._uncounted:
            self._line += buf.count(b"\n", 0, end)
        self._uncounted.clear()
        self._uncounted_size = 0

    @property
    def position(self) -> int:
        """Folded bytes taken in so far: the stream offset the next chunk's first byte will
        have (when the last chunk ended on a whole character)."""
        return self._offset + len(self._carry)

    @property
    def dropped(self) -> Counter[str]:
        """PAN-shaped numbers not reported, by the look-alike rule that explained them."""
        return self.rules.dropped

    def _take(self, folded: bytes) -> bytes:
        buf = self._carry + folded  # always a new object: the caller may reuse its buffer
        if self._find_header and self._offset == 0:
            self._find_header = False
            self.rules.header = CsvHeader.sniff(buf)
        return buf

    def feed(self, chunk: bytes) -> list[Hit]:
        return self._process(self._take(self._folder.fold(chunk)), final=False)

    def close(self) -> list[Hit]:
        hits = self._process(self._take(self._folder.fold(b"", final=True)), final=True)
        self._carry = b""
        return hits

    def _run_start(self, buf: bytes, end: int, floor: int) -> int:
        """The first digit of the run that a candidate ending at ``end`` belongs to, not
        before ``floor`` (where the runs already looked at end)."""
        i = end - 1
        lo = max(floor, end - 2 * MARGIN)
        while i > lo and buf[i - 1] in _RUN_BYTES:
            i -= 1
        while buf[i] not in _DIGITS or _in_url_escape(buf, i):
            i += 1
        return i

    def _run_lookalike(self, buf: bytes, start: int, end: int, *, whole: bool) -> bool:
        """True when a look-alike rule explains every card the run ``buf[start:end]`` could
        hold (and the drop is counted), so the full rules need not take it apart.

        ``whole``: the run is one card-shaped number, which the full rules would find as it
        is, so every rule decides as it would there. Otherwise a card may be cut from the
        run's middle, and only the rules that read the run's surroundings (labels, prefixes,
        an IBAN or decimal holding the whole run) hold for all of them; glue is left to the
        full rules. Runs followed by ``=`` or ``^`` may be track data and are left alone."""
        if not self.rules.lookalikes or buf[end : end + 1] in _TRACK_FOLLOW:
            return False
        if not whole and _FIELD_BREAK.search(buf, start, end):
            return False
        window, lo = _window(buf, start, end)
        column = self.rules.column_at(buf, start)
        rules = None if whole else _without_glue()
        rule = lookalike(window, start - lo, end - lo, column=column, rules=rules)
        if rule is None:
            return False
        self.rules.drop(rule, start)
        return True

    def _process(self, buf: bytes, *, final: bool) -> list[Hit]:
        hits: list[Hit] = []
        limit = len(buf) if final else max(self._own_start, len(buf) - MARGIN)
        prefiltered = buf
        if b"%" in buf:  # memchr first: most chunks have no URL escape at all
            prefiltered = URL_ESCAPE.sub(_blank, buf)
        found = self._prefilter.candidates(prefiltered, self._offset == 0)
        self.rules.base = self._offset
        # (end, start) for whole digit runs, (end, -1) for grouped candidates, by end.
        events = sorted([(e, s) for s, e in found.contiguous] + [(e, -1) for e in found.grouped])
        cur_pos, cur_line = 0, -1  # cur_line < 0: the backlog is not counted yet
        done_upto = self._own_start
        stop = limit
        for end, start in events:
            if end <= done_upto:
                continue  # inside a run already looked at
            if start >= 0:
                if start < done_upto:
                    continue
                # A whole run of 12-19 digits: prefix, length and Luhn decide in a
                # microsecond, and most candidates of a digit-dense log end here.
                digits = buf[start:end]
                if (digits[:2], end - start) not in _PREFIX_LENGTHS_B or not _luhn_ok(digits):
                    continue
            p = self._run_start(buf, end, done_upto)
            if p >= limit:
                break
            run = _RUN.match(buf, p)
            if run is None:
                continue
            run_end = max(run.end(), end)
            if not final and run_end + MARGIN > len(buf) and len(buf) - p < _MAX_CARRY:
                stop = p  # the run may go on in the next chunk: carry it over whole
                break
            done_upto = run_end
            # A whole number on its own: nothing joins it on the left, and on the right
            # nothing or a line break, past which only a number printed in fours would
            # reach (a group of 12-19 digits never does): the rules find this number alone.
            alone = run_end == end or _LINE_END.match(buf, end) is not None
            if start >= 0 and p == start and alone:
                if _brand_of(digits[:6], end - start) is None:
                    done_upto = end  # the next line's numbers are a run of their own
                    continue
                if self._run_lookalike(buf, start, end, whole=True):
                    done_upto = end
                    continue
            digits = buf[p:run_end]
            if len(digits.translate(None, _NOT_DIGITS)) < MIN_LENGTH:
                continue  # what is left of a run cut at a number already looked at
            if digits.isdigit():
                # Contiguous digits: only the whole run can be a card.
                text = digits.decode("ascii")
                if (text[:2], len(text)) not in _PREFIX_LENGTHS or not luhn_valid(text):
                    continue
                if brand_for(text) is None:
                    continue
            elif _inside_uuid(buf, p, run_end):
                continue  # digits of a UUID: every match there would be dropped anyway
            elif self._run_lookalike(buf, p, run_end, whole=False):
                continue
            for offset, kind, pan in _window_hits(buf, p, run_end, self._numeric_cells, self.rules):
                if cur_line < 0:
                    self._count_backlog()
                    cur_line = self._line
                if offset >= cur_pos:
                    cur_line += buf.count(b"\n", cur_pos, offset)
                else:
                    cur_line -= buf.count(b"\n", offset, cur_pos)
                cur_pos = offset
                hits.append(Hit(cur_line, kind, pan, self._offset + offset))
        if not final:
            resume = max(stop, done_upto)
            carry_start = max(0, resume - 2 * MARGIN)
            if cur_line < 0:
                self._uncounted.append((buf, carry_start))
                self._uncounted_size += carry_start
                if self._uncounted_size > _MAX_BACKLOG:
                    self._count_backlog()
            elif carry_start >= cur_pos:
                self._line = cur_line + buf.count(b"\n", cur_pos, carry_start)
            else:
                self._line = cur_line - buf.count(b"\n", carry_start, cur_pos)
            self._carry = buf[carry_start:]
            self._own_start = resume - carry_start
            self._offset += carry_start
        return hits


def scan_chunks(
    chunks: Iterable[bytes],
    *,
    numeric_cells: bool = False,
    lookalikes: bool = True,
    column: str | None = None,
    dropped: Counter[str] | None = None,
) -> Iterator[Hit]:
    """Every card in a stream given as ASCII-compatible byte chunks, in order.

    ``lookalikes=False`` reports every PAN-shaped number (a leak test wants them all);
    ``dropped``, if given, receives the counts of what the look-alike rules dropped."""
    matcher = StreamMatcher(numeric_cells=numeric_cells, lookalikes=lookalikes, column=column)
    for chunk in chunks:
        yield from matcher.feed(chunk)
    yield from matcher.close()
    if dropped is not None:
        dropped.update(matcher.dropped)


def scan_bytes(
    data: bytes,
    *,
    numeric_cells: bool = False,
    lookalikes: bool = True,
    column: str | None = None,
    dropped: Counter[str] | None = None,
) -> list[Hit]:
    return list(
        scan_chunks(
            [data],
            numeric_cells=numeric_cells,
            lookalikes=lookalikes,
            column=column,
            dropped=dropped,
        )
    )


def scan_text(
    text: str,
    *,
    numeric_cells: bool = False,
    lookalikes: bool = True,
    dropped: Counter[str] | None = None,
) -> list[Hit]:
    """Cards in a decoded text (line numbers are those of the text)."""
    return scan_bytes(
        text.encode("utf-8", "surrogatepass"),
        numeric_cells=numeric_cells,
        lookalikes=lookalikes,
        dropped=dropped,
    )
