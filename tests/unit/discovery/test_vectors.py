"""The matching vectors (tests/vectors/discovery/matching.json), through the whole scanner."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cardshield.cards import mask_digits
from cardshield.discovery import ScanOptions
from cardshield.discovery.scanner import scan_bytes_named

from .builders import luhn

VECTORS = Path(__file__).parents[2] / "vectors" / "discovery" / "matching.json"
_TEMPLATE = re.compile(r"\{([LM]):([0-9]+)\}")


def expand(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        number = luhn(m.group(2))
        return number if m.group(1) == "L" else mask_digits(number)

    return _TEMPLATE.sub(repl, text)


def _cases() -> list[Any]:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    return [pytest.param(c, id=c["name"]) for c in data["cases"]]


@pytest.mark.parametrize("case", _cases())
def test_vector(case: dict[str, Any]) -> None:
    text = expand(case["text"])
    result = scan_bytes_named("vector.txt", text.encode("utf-8"), ScanOptions())
    assert result.warnings == []
    got = [(f.line, f.kind, f.brand, f.masked) for f in result.findings]
    want = [(e["line"], e["kind"], e["brand"], expand(e["masked"])) for e in case["found"]]
    assert got == want
    for finding, expected in zip(result.findings, case["found"], strict=True):
        if "severity" in expected:
            assert finding.severity.value == expected["severity"]


def test_vectors_cover_both_sides() -> None:
    cases = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    assert sum(1 for c in cases if c["found"]) >= 20
    assert sum(1 for c in cases if not c["found"]) >= 20
