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
_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


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
    """Allowlist lines: ``sha256:<64 hex>`` (or the bare hex), ``#`` comments after it.

    A line that is not a digest is refused with its line number only: it might be a card
    number someone pasted by mistake, and the message must not repeat it.
    """
    digests: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        m = _DIGEST.match(line)
        if m is None:
            raise ScanOptionError(
                f"allowlist line {number} is not a sha256 digest (entries hold hashes, never "
                "card numbers; make one with `cardshield scan --allowlist-entry`)"
            )
        digests.add(m.group(1))
    return frozenset(digests)


def allowlist_entry(digits: str) -> str:
    return f"sha256:{allowlist_digest(digits)}"
