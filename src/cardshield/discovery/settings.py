"""Parsing what people type for a scan: sizes, times, the allowlist file."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cardshield.discovery.context import allowlist_digest
from cardshield.discovery.errors import ScanOptionError

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_AGO = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENTRY = re.compile(r"^(?:hmac|sha256):[0-9a-f]{64}$")
_BARE_HEX = re.compile(r"^[0-9a-f]{64}$")


def parse_size(text: str) -> int:
    """``1048576``, ``512K``, ``64MiB``, ``2G`` -> bytes."""
    m = _SIZE.match(text)
    if m is None:
        raise ScanOptionError(f"invalid size: {text!r} (use e.g. 512K, 64M, 2G)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_since(text: str, now: float) -> float:
    """``7d``, ``12h``, ``30m`` ago, or an ISO 8601 date/time (UTC if no offset) -> epoch."""
    m = _AGO.match(text)
    if m is not None:
        return now - int(m.group(1)) * _SECONDS[m.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ScanOptionError(
            "invalid --since: use 7d, 12h, 30m or an ISO date such as 2024-05-01"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_allowlist(text: str) -> frozenset[str]:
    """Allowlist lines: ``hmac:<64 hex>`` (keyed with the scan key, what
    ``cardshield scan --allowlist-entry`` prints), or the older unkeyed ``sha256:<64 hex>``
    (or bare hex); ``#`` comments after it. Entries come back tagged (``hmac:``/``sha256:``).

    A line that is not an entry is refused with its line number only: it might be a card
    number someone pasted by mistake, and the message must not repeat it.
    """
    entries: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if _BARE_HEX.match(line):
            line = f"sha256:{line}"
        if _ENTRY.match(line) is None:
            raise ScanOptionError(
                f"allowlist line {number} is not an allowlist entry (entries hold keyed hashes, "
                "never card numbers; make one with `cardshield scan --allowlist-entry`)"
            )
        entries.add(line)
    return frozenset(entries)


def unkeyed_entries(entries: frozenset[str]) -> int:
    """How many entries are the older unkeyed SHA-256 form, which anyone can reverse."""
    return sum(1 for entry in entries if entry.startswith("sha256:"))


def allowlist_entry(key: bytes, digits: str) -> str:
    return allowlist_digest(key, digits)
