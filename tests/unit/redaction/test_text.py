from __future__ import annotations

import pytest

from cardshield.cards import TEST_CARDS
from cardshield.redaction.text import (
    contains_card_data,
    find_cards,
    find_pans,
    redact,
    redact_lines,
)
from tests.conftest import load_vectors

VECTORS = load_vectors("redaction.json")


@pytest.mark.parametrize("case", VECTORS["masked"], ids=[c["note"] for c in VECTORS["masked"]])
def test_masked_vectors(case: dict[str, str]) -> None:
    assert redact(case["in"]) == case["out"]
    assert contains_card_data(case["in"])


@pytest.mark.parametrize(
    "case", VECTORS["unchanged"], ids=[c["note"] for c in VECTORS["unchanged"]]
)
def test_false_positive_controls(case: dict[str, str]) -> None:
    assert redact(case["in"]) == case["in"]
    assert not contains_card_data(case["in"])


@pytest.mark.parametrize("card", TEST_CARDS, ids=[c.number[-4:] + c.brand for c in TEST_CARDS])
def test_every_published_test_card_is_found(card: object) -> None:
    number = card.number  # type: ignore[attr-defined]
    matches = list(find_pans(f"log line pan={number} end"))
    assert len(matches) == 1
    assert matches[0].pan.reveal() == number
    assert number not in redact(f"pan={number}")


def test_match_positions_point_at_card_digits() -> None:
    text = "a 4242%204242%204242%204242 b"
    (match,) = find_cards(text)
    assert "".join(text[p] for p in match.positions) == "4242424242424242"
    assert text[match.start : match.end] == "4242%204242%204242%204242"
    assert match.kind == "pan"
    assert match.brand == "visa"


def test_track_data_wins_over_the_pan_inside_it() -> None:
    kinds = [m.kind for m in find_cards("%B4242424242424242^DOE/J^2512101?")]
    assert kinds == ["track1"]


def test_streaming_lines() -> None:
    lines = ["a 4242424242424242\n", "b\n", "c cvv=123\n"]
    assert list(redact_lines(lines)) == ["a 424242******4242\n", "b\n", "c cvv=***\n"]


def test_long_lines_and_digit_heavy_text() -> None:
    noise = " ".join(str(i) for i in range(20000))
    text = noise + " 5555 5555 5555 4444 " + noise
    out = redact(text)
    assert "5555 55** **** 4444" in out
    assert len(out) == len(text)
