"""The prefilters: both implementations report the same candidates, every card shape is a
candidate, and the ordinary numbers of a digit-dense log mostly are not."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardshield.cards.luhn import luhn_valid
from cardshield.discovery.matcher import _luhn_ok
from cardshield.discovery.prefilter import Candidates, HyperscanPrefilter, Prefilter, RePrefilter


def _both() -> list[Prefilter]:
    found: list[Prefilter] = [RePrefilter()]
    with contextlib.suppress(ImportError):
        found.append(HyperscanPrefilter())
    return found


def _grouped_ends(c: Candidates) -> set[int]:
    return set(c.grouped)


@pytest.mark.parametrize("prefilter", _both(), ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("text", "contiguous", "grouped"),
    [
        (b"x 4111111111111111 y", [(2, 18)], False),
        (b"4111111111111111", [(0, 16)], False),
        (b"ts=1709294400036 id=17092944000361234", [], False),  # starts with 1: never
        (b"id=41111111111111111111", [], False),  # 22 digits: longer than any card
        (b"n=41111111111", [], False),  # 11 digits: shorter than any card
        (b"a 4111 1111 1111 1111", [], True),
        (b"q=4111%%%1111%%%1111%%%1111&", [], True),  # blanked URL escapes
        (b"3782 822463 10005", [], True),
        (b"cell 62 821 5792 0347", [], False),  # a first group of two: not a printed card
        (b"sci 4.24242424242424E+15", [(6, 20)], True),
    ],
)
def test_candidates(
    prefilter: Prefilter, text: bytes, contiguous: list[tuple[int, int]], grouped: bool
) -> None:
    found = prefilter.candidates(text, True)
    assert found.contiguous == contiguous
    assert bool(found.grouped) is grouped


@pytest.mark.parametrize("prefilter", _both(), ids=lambda p: p.name)
def test_a_candidate_at_a_buffer_start_belongs_to_the_previous_buffer(prefilter: Prefilter) -> None:
    # Not at the stream's start, data[0]'s left neighbour is unknown: no candidate there.
    assert prefilter.candidates(b"4111111111111111 x", False).contiguous == []
    assert prefilter.candidates(b" 4111111111111111 x", False).contiguous == [(1, 17)]


_BYTES = st.binary(max_size=300).map(lambda b: bytes(b"0123456789 .-+,%x\n="[x % 19] for x in b))


@settings(max_examples=300, deadline=None)
@given(_BYTES, st.booleans())
def test_hyperscan_and_re_agree(data: bytes, at_start: bool) -> None:
    prefilters = _both()
    if len(prefilters) < 2:
        pytest.skip("hyperscan is not installed here")
    re_found, hs_found = (p.candidates(data, at_start) for p in prefilters)
    assert hs_found.contiguous == re_found.contiguous
    # Hyperscan reports every end of overlapping grouped matches; re the leftmost-longest
    # of each start. Both must agree on where candidates are.
    assert bool(hs_found.grouped) == bool(re_found.grouped)
    assert set(re_found.grouped) <= set(hs_found.grouped)


def test_luhn_on_bytes_matches_luhn_on_text() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        digits = str(rng.randrange(10**11, 10**19))
        assert _luhn_ok(digits.encode()) == luhn_valid(digits)
