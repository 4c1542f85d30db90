from __future__ import annotations

from cardshield.cards import PAN, TEST_CARDS, Outcome, is_test_card, lookup


def test_every_test_card_is_a_valid_pan_of_its_brand() -> None:
    for card in TEST_CARDS:
        assert PAN(card.number).brand is card.brand, card.description


def test_registry_covers_every_sandbox_outcome() -> None:
    assert {c.outcome for c in TEST_CARDS} == set(Outcome)


def test_lookup() -> None:
    hit = lookup("4000000000009995")
    assert hit is not None
    assert hit.outcome is Outcome.INSUFFICIENT_FUNDS
    assert is_test_card("4242424242424242")
    assert lookup("4242424242424241") is None
    assert len({c.number for c in TEST_CARDS}) == len(TEST_CARDS)
