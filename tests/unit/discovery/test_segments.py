"""Big text files are scanned in segments on several cores, with the same findings, line
numbers and look-alike decisions as one worker scanning the whole file."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cardshield.cards import luhn_check_digit
from cardshield.discovery import ScanOptions
from cardshield.discovery import segments as seg
from cardshield.discovery.runner import run_scan
from tests.conftest import assert_no_card_data

from .builders import gz, luhn


def _card(rng: random.Random) -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return body + luhn_check_digit(body)


def _big_log(
    path: Path, rng: random.Random, lines: int
) -> tuple[list[tuple[int, str]], tuple[str, ...]]:
    """A log whose every line holds ordinary numbers; cards on some lines, in forms that
    need context on both sides (grouped, labelled, split over a line break)."""
    planted: list[tuple[int, str]] = []
    pans: list[str] = []
    out: list[str] = []
    for n in range(1, lines + 1):
        line = (
            f"{1714567296000 + n} INFO rid={rng.randrange(10**15, 10**16)} amount=12.{n % 100:02d}"
        )
        if n % 97 == 0:
            pan = _card(rng)
            form = n % 3
            if form == 0:
                line += f" card={pan}"
            elif form == 1:
                line += f" pan {pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:]}"
            else:
                line += f" phone=+{luhn('4915123' + str(n % 10) * 5)} card_number: {pan}"
            planted.append((n, pan[:6] + "*" * 6 + pan[-4:]))
            pans.append(pan)
        out.append(line)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return planted, tuple(pans)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seg, "MIN_SEGMENT", 64 << 10)


def test_a_big_log_scanned_in_segments_matches_one_worker(
    tmp_path: Path, small_segments: None
) -> None:
    rng = random.Random(5)
    log = tmp_path / "app.log"
    planted, pans = _big_log(log, rng, 12_000)
    segments = seg.plan(str(log), log.stat().st_size, 8)
    assert segments is not None and len(segments) == 8
    assert [s.start for s in segments[1:]] == [s.end for s in segments[:-1]]
    one = run_scan([str(log)], ScanOptions(), jobs=1)
    many = run_scan([str(log)], ScanOptions(), jobs=4)
    assert [(f.line, f.masked) for f in one.findings] == planted
    assert [(f.line, f.masked) for f in many.findings] == planted
    assert many.stats.files == 1
    assert many.stats.bytes == log.stat().st_size
    assert one.stats.lookalikes["phone-e164"] == many.stats.lookalikes["phone-e164"] > 0
    assert_no_card_data(repr(many.to_dict()), pans)


def test_cuts_fall_on_bytes_no_digit_run_can_hold(tmp_path: Path, small_segments: None) -> None:
    log = tmp_path / "digits.log"
    # Long stretches of digits and separators only: a cut must wait for a letter.
    block = ("4111 1111 1111 1111 " * 2000 + "x\n").encode()
    log.write_bytes(block * 20)
    segments = seg.plan(str(log), log.stat().st_size, 4)
    assert segments is not None
    data = log.read_bytes()
    for s in segments[1:]:
        assert data[s.start - 1 : s.start] == b"x"
    result = run_scan([str(log)], ScanOptions(), jobs=4)
    assert result.stats.findings == 2000 * 20


def test_a_csv_keeps_its_header_in_every_segment(tmp_path: Path, small_segments: None) -> None:
    rng = random.Random(9)
    rows = ["id,name,phone,card"]
    cards = []
    for n in range(20_000):
        phone = luhn("4915" + "".join(rng.choice("0123456789") for _ in range(8)))
        pan = _card(rng) if n % 1500 == 0 else ""
        rows.append(f"{n},Jo {n % 7},{phone},{pan}")
        if pan:
            cards.append((n + 2, pan[:6] + "*" * 6 + pan[-4:]))
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n")
    assert seg.plan(str(path), path.stat().st_size, 4) is not None
    result = run_scan([str(path)], ScanOptions(), jobs=4)
    # The phone column is labelled by the header, even in the last segment.
    assert [(f.line, f.masked) for f in result.findings] == cards


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"<html><body>" + b"x" * 300_000 + b"</body></html>"),
        ("data.xml", b"<?xml version='1.0'?><a>" + b"y" * 300_000 + b"</a>"),
        ("log.gz", gz(b"z" * 300_000)),
        ("utf16.log", "w".encode("utf-16") * 150_000),
    ],
)
def test_containers_markup_and_utf16_are_scanned_whole(
    tmp_path: Path, small_segments: None, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert seg.plan(str(path), path.stat().st_size, 4) is None


def test_a_file_with_nothing_but_digit_runs_is_scanned_whole(
    tmp_path: Path, small_segments: None
) -> None:
    # Digits, commas and line breaks only: any cut could fall inside a run, so none is made.
    path = tmp_path / "numbers.csv"
    path.write_text("".join(f"{n},{n * 7}\n" for n in range(100_000)))
    assert seg.plan(str(path), path.stat().st_size, 4) is None


def test_small_files_are_one_unit(tmp_path: Path) -> None:
    path = tmp_path / "small.log"
    path.write_text("hello 4111 1111 1111 1111\n" * 1000)
    assert seg.plan(str(path), path.stat().st_size, 8) is None


def test_folded_digits_before_a_cut_keep_offsets_right(
    tmp_path: Path, small_segments: None
) -> None:
    # Fullwidth digits fold to one byte each: the segment bounds are found in the folded
    # stream, so a card right after a cut is neither lost nor reported twice.
    pan = "4111111111111111"
    wide = "".join(chr(0xFF10 + int(d)) for d in pan)
    note = "".join(chr(0xFF41 + ord(c) - ord("a")) for c in "note")  # fullwidth letters
    lines = [f"row {n} {note} {wide if n % 50 == 0 else 'plain'} end" for n in range(8000)]
    path = tmp_path / "wide.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = run_scan([str(path)], ScanOptions(), jobs=1)
    many = run_scan([str(path)], ScanOptions(), jobs=4)
    assert [(f.line, f.masked) for f in many.findings] == [(f.line, f.masked) for f in one.findings]
    assert len(one.findings) == 160
