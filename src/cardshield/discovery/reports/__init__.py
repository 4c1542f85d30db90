"""Report formats: one module each, one registry entry each. Every format renders only
masked numbers; file names with card numbers in them were masked when findings were made."""

from __future__ import annotations

from collections.abc import Callable

from cardshield.discovery.findings import ScanReport
from cardshield.discovery.reports import csv, html, json, sarif, table

RENDERERS: dict[str, Callable[[ScanReport], str]] = {
    "table": table.render,
    "json": json.render,
    "sarif": sarif.render,
    "csv": csv.render,
    "html": html.render,
}

__all__ = ["RENDERERS"]
