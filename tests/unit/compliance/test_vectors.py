"""SAQ, level and submission scenarios from tests/vectors/saq (eligibility texts, brand rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cardshield.compliance import advise, parse_answers
from tests.conftest import VECTORS

SCENARIOS = sorted((VECTORS / "saq").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path) -> None:
    vector = _load(path)
    expect = vector["expect"]
    advice = advise(parse_answers(vector["answers"])).to_dict()

    saq = advice["saq"]
    assert saq["overall"] == expect["saq"]["overall"], vector["description"]
    assert saq["per_channel"] == expect["saq"]["per_channel"]
    assert saq["alternatives"] == expect["saq"]["alternatives"]
    if "asv_scans" in expect["saq"]:
        assert saq["asv_scans"] is expect["saq"]["asv_scans"]
    level = advice["level"]
    assert {k: level[k] for k in ("visa", "mastercard", "overall")} == expect["level"]
    assert [s["item"] for s in advice["submit"]] == expect["submit"]
    if "requirements" in expect:
        assert [r["id"] for r in advice["requirements"]] == expect["requirements"]

    # Every decision is explained and rests on a named public source.
    decisions = [r["decision"] for r in advice["reasons"]]
    assert f"overall: SAQ {saq['overall']}" in decisions
    assert any(d.startswith(f"level: Visa {level['visa']}") for d in decisions)
    assert any(d.startswith(f"level: Mastercard {level['mastercard']}") for d in decisions)
    for item in expect["submit"]:
        assert any(d.startswith("submit:") and item in d for d in decisions), item
    for reason in advice["reasons"]:
        assert reason["because"] and reason["source"] and reason["rule"]
        assert "{" not in reason["because"], "an unfilled placeholder"


def test_per_method_detail_is_reported_for_a_mixed_channel() -> None:
    vector = _load(VECTORS / "saq" / "28-ivr-and-vt.json")
    saq = advise(parse_answers(vector["answers"])).to_dict()["saq"]
    assert saq["per_method"] == {"phone": {"cardshield_ivr": "A", "virtual_terminal": "C-VT"}}
