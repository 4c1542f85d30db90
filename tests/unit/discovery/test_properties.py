"""Property: any valid PAN of any brand, written with any supported separator and grouping,
in random text, in any supported encoding, is found on its line with the right masked form."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cardshield.cards import IIN_TABLE, PAN, luhn_check_digit
from cardshield.discovery import ScanOptions
from cardshield.discovery.scanner import scan_bytes_named

SEPARATORS = ["", " ", "-", ".", "%20", "%2D", "%2E"]
# With a byte-order mark any text goes; without one, UTF-16 is told apart by where its NUL
# bytes fall, which needs mostly Latin-script text.
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]
_LATIN = st.characters(min_codepoint=1, max_codepoint=0xFF, exclude_categories=("Cs",))
_ANY = st.characters(exclude_categories=("Cs",))


@st.composite
def pans(draw: st.DrawFn) -> PAN:
    row = draw(st.sampled_from(IIN_TABLE))
    width = len(row.low)
    prefix = str(draw(st.integers(int(row.low), int(row.high)))).zfill(width)
    length = draw(st.sampled_from(sorted(row.lengths)))
    middle = draw(st.text("0123456789", min_size=length - width - 1, max_size=length - width - 1))
    body = prefix + middle
    return PAN(body + luhn_check_digit(body))


def _groupings(n: int) -> list[list[int]]:
    options = [[n], [4] * (n // 4) + ([n % 4] if n % 4 else [])]
    if n == 15:
        options.append([4, 6, 5])
    if n == 14:
        options.append([4, 6, 4])
    return options


@st.composite
def documents(draw: st.DrawFn) -> tuple[PAN, str, int, str]:
    pan = draw(pans())
    digits = pan.reveal()
    sep = draw(st.sampled_from(SEPARATORS))
    groups = draw(st.sampled_from(_groupings(len(digits)))) if sep else [len(digits)]
    parts, pos = [], 0
    for size in groups:
        parts.append(digits[pos : pos + size])
        pos += size
    encoding = draw(st.sampled_from(ENCODINGS))
    alphabet = _LATIN if encoding in ("latin-1", "utf-16-le", "utf-16-be") else _ANY
    before = draw(st.text(alphabet, max_size=80))
    after = draw(st.text(alphabet, max_size=80))
    text = f"{before} | {sep.join(parts)} | {after}"
    return pan, text, before.count("\n") + 1, encoding


@settings(max_examples=300, deadline=None)
@given(documents())
def test_any_pan_in_any_text_and_encoding_is_found(doc: tuple[PAN, str, int, str]) -> None:
    pan, text, line, encoding = doc
    assume("imei" not in text.lower() and "meid" not in text.lower())
    result = scan_bytes_named("doc.txt", text.encode(encoding), ScanOptions())
    assert (line, pan.masked()) in [(f.line, f.masked) for f in result.findings]
    # Only masked digits ever reach a finding.
    assert all(pan.reveal() not in str(f.to_dict()) for f in result.findings)
