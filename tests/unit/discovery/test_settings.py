"""What people type: sizes, --since, allowlist files."""

from __future__ import annotations

import hashlib

import pytest

from cardshield.discovery.errors import ScanOptionError
from cardshield.discovery.settings import (
    allowlist_entry,
    parse_allowlist,
    parse_since,
    parse_size,
    unkeyed_entries,
)
from tests.conftest import CANARY_PAN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("512K", 512 << 10),
        ("64MiB", 64 << 20),
        ("2g", 2 << 30),
        (" 3 MB ", 3 << 20),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1M", "1.5G", "lots", "1P"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ScanOptionError):
        parse_size(text)


def test_parse_since() -> None:
    now = 1_700_000_000.0
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("12h", now) == now - 12 * 3600
    assert parse_since("2024-05-01", now) == 1714521600.0  # midnight UTC
    assert parse_since("2024-05-01T02:00:00+02:00", now) == 1714521600.0
    with pytest.raises(ScanOptionError):
        parse_since("yesterday", now)


def test_allowlist_entry_is_keyed_with_the_scan_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    entry = allowlist_entry(key, CANARY_PAN)
    assert entry.startswith("hmac:") and len(entry) == 69
    assert entry != allowlist_entry(other, CANARY_PAN)
    assert hashlib.sha256(CANARY_PAN.encode()).hexdigest() not in entry
    entries = parse_allowlist(f"# comment\n\n{entry}  # visa test card\n{entry.upper()}\n")
    assert entries == {entry}


def test_allowlist_reads_the_older_unkeyed_entries_tagged() -> None:
    digest = hashlib.sha256(CANARY_PAN.encode()).hexdigest()
    entries = parse_allowlist(f"sha256:{digest}\n{digest.upper()}\n")
    assert entries == {f"sha256:{digest}"}
    assert unkeyed_entries(entries) == 1


def test_allowlist_refuses_anything_else_without_repeating_it() -> None:
    with pytest.raises(ScanOptionError) as info:
        parse_allowlist(f"sha256:{'0' * 64}\n{CANARY_PAN}\n")
    assert "line 2" in info.value.message
    assert CANARY_PAN not in info.value.message
