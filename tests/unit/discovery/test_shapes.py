"""The scanner finds card numbers in every shape the text redactor masks: Unicode spaces
and digits (UTF-8, UTF-16, Latin-1), doubled and mixed separators, any printed grouping,
glued letters; with each prefilter, across chunk boundaries, and through ``cardshield scan``."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.discovery import ScanOptions
from cardshield.discovery.lookalikes import default_rules
from cardshield.discovery.matcher import StreamMatcher, scan_bytes, scan_chunks
from cardshield.discovery.prefilter import HyperscanPrefilter, Prefilter, RePrefilter
from cardshield.discovery.scanner import scan_bytes_named
from cardshield.redaction.fold import fold
from cardshield.redaction.text import find_cards
from tests.unit.redaction import card_shapes as shapes
from tests.unit.redaction.test_text_shapes import MASKED

# Every masked shape but the named security code (the scanner looks for card numbers) and
# the digits glued to an identifier: the redactor masks those (it leans towards masking),
# the scanner drops them as ids (see test_lookalikes.py).
GLUED_IDS = {"glued left"}
CARD_SHAPES = [
    (name, text) for name, text, _ in MASKED if "cvv" not in name and name not in GLUED_IDS
]


def _prefilters() -> list[Prefilter]:
    found: list[Prefilter] = [RePrefilter()]
    with contextlib.suppress(ImportError):
        found.append(HyperscanPrefilter())
    return found


def _expected(text: str) -> list[tuple[int, str]]:
    (match,) = find_cards(text)
    return [(text[: match.start].count("\n") + 1, match.masked())]


@pytest.mark.parametrize("prefilter", _prefilters(), ids=lambda p: p.name)
@pytest.mark.parametrize(("name", "text"), CARD_SHAPES, ids=[c[0] for c in CARD_SHAPES])
def test_each_shape_with_each_prefilter(prefilter: Prefilter, name: str, text: str) -> None:
    data = f"line one\nseen: {text} ok\n".encode()
    matcher = StreamMatcher(prefilter=prefilter)
    hits = matcher.feed(data) + matcher.close()
    want = [(line + 1, masked) for line, masked in _expected(text)]
    assert [(h.line, h.pan.masked()) for h in hits] == want


@pytest.mark.parametrize(("name", "text"), CARD_SHAPES, ids=[c[0] for c in CARD_SHAPES])
def test_each_shape_split_byte_by_byte(name: str, text: str) -> None:
    data = f"x {text} y".encode()
    hits = list(scan_chunks([data[i : i + 1] for i in range(len(data))]))
    assert [(h.line, h.pan.masked()) for h in hits] == _expected(text)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-8-sig"])
@pytest.mark.parametrize(
    "text",
    ["4242\u00a04242\u00a04242\u00a04242", "\uff14\uff12\uff14\uff12" * 4, "٤٢٤٢" * 4],
    ids=["nbsp", "fullwidth", "arabic-indic"],
)
def test_unicode_shapes_in_each_encoding(encoding: str, text: str) -> None:
    result = scan_bytes_named("doc.txt", f"header\nnote {text}\n".encode(encoding), ScanOptions())
    assert [(f.line, f.masked) for f in result.findings] == [(2, "424242******4242")]


def test_latin1_no_break_space() -> None:
    data = "caf\u00e9 4242\u00a04242\u00a04242\u00a04242".encode("latin-1")
    assert [h.pan.masked() for h in scan_bytes(data)] == ["424242******4242"]


def test_markup_and_sheet_cells_see_folded_text() -> None:
    html = "<p>card <b>4242</b>\u00a04242\u00a04242\u00a04242</p>".encode()
    result = scan_bytes_named("page.html", html, ScanOptions())
    assert [f.masked for f in result.findings] == ["424242******4242"]


def test_neighbouring_cells_still_never_merge() -> None:
    # Tabs and line breaks join groups now; a cell boundary must not.
    cells = "".join(f"<td>{g}</td>" for g in ("4242",) * 4)
    html = f"<table><tr>{cells}</tr></table>".encode()
    assert scan_bytes_named("t.html", html, ScanOptions()).findings == []


def test_cardshield_scan_finds_a_file_per_shape(tmp_path: Path) -> None:
    for k, (_, text) in enumerate(CARD_SHAPES):
        (tmp_path / f"shape{k:02d}.log").write_text(f"GET /x\n{text}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "--format", "json", "-j", "1"])
    assert result.exit_code == 1
    found = {Path(f["path"]).name: f["masked"] for f in json.loads(result.output)["findings"]}
    want = {f"shape{k:02d}.log": _expected(text)[0][1] for k, (_, text) in enumerate(CARD_SHAPES)}
    assert found == want
    for _, text in CARD_SHAPES:
        assert text not in result.output


def _glued_to_an_id(case: shapes.Written) -> bool:
    """ASCII letters glued to the digits, other than a word that names a card."""
    first, last = case.positions[0], case.positions[-1]
    if case.text[:first] in ("card", "pan:"):
        return False  # a label that names a card outranks the glue
    head = re.search(r"[A-Za-z]+$", case.text[:first])
    tail = re.match(r"[A-Za-z]+", case.text[last + 1 :])
    glued = head or tail  # the left side decides when both are glued
    return glued is not None and glued.group().lower() not in default_rules().card_words


def _a_decimal(case: shapes.Written) -> bool:
    """One number with a decimal point or comma and one to three digits after it: an
    amount to the look-alike rules (lookalikes.toml decimal), whatever is glued to it."""
    written = fold(case.text[case.positions[0] : case.positions[-1] + 1])
    return re.fullmatch(r"[0-9]+[.,][0-9]{1,3}", written) is not None


@settings(max_examples=300, deadline=None)
@given(shapes.written(), st.text(shapes.NOT_A_DIGIT, max_size=60), st.sampled_from(["re", "hs"]))
def test_any_pasted_shape_is_found(case: shapes.Written, before: str, which: str) -> None:
    assume("imei" not in before.lower() and "meid" not in before.lower())
    prefilters = _prefilters()
    prefilter = prefilters[-1] if which == "hs" else prefilters[0]
    data = f"{before} | {case.text} | end\n".encode()
    matcher = StreamMatcher(prefilter=prefilter)
    hits = matcher.feed(data) + matcher.close()
    if _a_decimal(case):
        assert case.pan not in [h.pan for h in hits]
        assert matcher.dropped["decimal"] >= 1
        return
    if _glued_to_an_id(case):
        # The redactor masks it; discovery reads it as part of an identifier.
        assert case.pan not in [h.pan for h in hits]
        assert matcher.dropped["glued-id"] >= 1
        return
    assert (before.count("\n") + 1, case.pan) in [(h.line, h.pan) for h in hits]
    result = scan_bytes_named("doc.txt", data, ScanOptions())
    assert case.pan.masked() in [f.masked for f in result.findings]
    assert all(case.pan.reveal() not in shapes.digits_of(str(f.to_dict())) for f in result.findings)
