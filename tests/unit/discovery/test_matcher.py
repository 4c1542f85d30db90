"""The stream matcher: chunk boundaries, long lines, encodings, both prefilters."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardshield.discovery import ScanOptions
from cardshield.discovery.decode import Encoding, ascii_compatible, sniff_encoding
from cardshield.discovery.matcher import CHUNK_SIZE, StreamMatcher, scan_bytes, scan_chunks
from cardshield.discovery.prefilter import HyperscanPrefilter, Prefilter, RePrefilter
from cardshield.discovery.scanner import scan_bytes_named

from .builders import luhn

DOC = (
    b"header line\n"
    b"visa 4242 4242 4242 4242 and amex 3782-822463-10005\n"
    b"ts 1714567296789 uuid 123e4567-e89b-12d3-a456-426614174000\n"
    b"track ;5555555555554444=25121010000000000000?\n"
    b"url pan=4111%201111%201111%201111&x\n"
    b"mc2 2223003122003222, decimal 0.4242424242424242\n"
)
EXPECTED = [
    (2, "pan", "424242******4242"),
    (2, "pan", "378282*****0005"),
    (4, "track2", "555555******4444"),
    (5, "pan", "411111******1111"),
    (6, "pan", "222300******3222"),
]


def _prefilters() -> list[Prefilter]:
    found: list[Prefilter] = [RePrefilter()]
    with contextlib.suppress(ImportError):  # Hyperscan is installed on x86-64 Linux only
        found.append(HyperscanPrefilter())
    return found


def _summary(hits: list) -> list[tuple[int, str, str]]:  # type: ignore[type-arg]
    return [(h.line, h.kind, h.pan.masked()) for h in hits]


@pytest.mark.parametrize("prefilter", _prefilters(), ids=lambda p: p.name)
def test_document_with_each_prefilter(prefilter: Prefilter) -> None:
    matcher = StreamMatcher(prefilter=prefilter)
    hits = matcher.feed(DOC) + matcher.close()
    assert _summary(hits) == EXPECTED


@settings(max_examples=120, deadline=None)
@given(st.lists(st.integers(1, 160), min_size=1, max_size=40))
def test_every_chunking_finds_each_number_exactly_once(sizes: list[int]) -> None:
    chunks, pos, i = [], 0, 0
    while pos < len(DOC):
        size = sizes[i % len(sizes)]
        chunks.append(DOC[pos : pos + size])
        pos += size
        i += 1
    hits = list(scan_chunks(chunks))
    assert _summary(hits) == EXPECTED
    assert [h.offset for h in hits] == [h.offset for h in scan_bytes(DOC)]


def test_number_straddling_the_read_boundary_of_a_very_long_line() -> None:
    # One 3 MiB line with no newline; a grouped card sits across the first 1 MiB read.
    pad = b"a " * (CHUNK_SIZE // 2 - 5)
    data = b"first\n" + pad + b"4242 4242 4242 4242 " + b"b " * CHUNK_SIZE + b"5555555555554444"
    result = scan_bytes_named("long.log", data, ScanOptions())
    assert [(f.line, f.masked) for f in result.findings] == [
        (2, "424242******4242"),
        (2, "555555******4444"),
    ]


def test_run_longer_than_a_chunk_is_not_a_card() -> None:
    data = b"x " + b"4" * (3 * CHUNK_SIZE) + b" 4242424242424242\n"
    hits = list(scan_chunks([data[i : i + 65536] for i in range(0, len(data), 65536)]))
    assert _summary(hits) == [(1, "pan", "424242******4242")]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("abc".encode("utf-16"), Encoding.UTF16LE),
        ("abc".encode("utf-16-be"), Encoding.UTF16BE),
        (b"a", Encoding.BYTES),
        ("card number here".encode("utf-16-le"), Encoding.UTF16LE),
        ("card number here".encode("utf-16-be"), Encoding.UTF16BE),
        (b"\xfe\xff\x00a\x00b", Encoding.UTF16BE),
        (b"plain ascii", Encoding.BYTES),
        (bytes(range(256)) * 4, Encoding.BYTES),  # binary: NULs are not one-sided
    ],
)
def test_sniff_encoding(encoded: bytes, expected: Encoding) -> None:
    assert sniff_encoding(encoded)[0] is expected


def test_utf16_split_inside_a_character_is_reassembled() -> None:
    data = "x\u00e9 4242424242424242\n".encode("utf-16-le")
    chunks = [data[:3], data[3:9], data[9:]]  # odd offsets split code units
    converted = b"".join(ascii_compatible(chunks))
    assert converted == "x\u00e9 4242424242424242\n".encode()


def test_numeric_cells_rebuild_a_truncated_check_digit() -> None:
    # Excel keeps 15 significant digits: 4242424242424242 is stored as 4.24242424242424E+15.
    assert _summary(scan_bytes(b"4.24242424242424E+15")) == []
    assert _summary(scan_bytes(b"4.24242424242424E+15", numeric_cells=True)) == [
        (1, "pan", "424242******4242")
    ]
    exact = luhn("40000000000000")  # 15 digits, no brand at this length
    assert _summary(scan_bytes(f"{exact[0]}.{exact[1:]}E+14".encode(), numeric_cells=True)) == []


def test_utf16_text_starting_with_nul_is_not_taken_for_utf32() -> None:
    # FF FE 00 00 opens UTF-32LE too; the next character tells them apart.
    assert sniff_encoding("\x00 | 4111".encode("utf-16"))[0] is Encoding.UTF16LE
    assert sniff_encoding("\x00 | 4111".encode("utf-16-le")) != (Encoding.UTF16LE, 2)
    data = "\x00 | 5100000000000008 | \x00".encode("utf-16")
    result = scan_bytes_named("doc.txt", data, ScanOptions())
    assert [f.masked for f in result.findings] == ["510000******0008"]
