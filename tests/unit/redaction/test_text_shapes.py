"""Card numbers written the ways people paste them: Unicode spaces and digits, doubled or
mixed separators, other groupings, glued letters. Each is masked in the original text."""

from __future__ import annotations

import pytest

from cardshield.redaction.text import contains_card_data, find_cards, redact


def wide(text: str) -> str:
    """``text`` in fullwidth forms (U+FF01-U+FF5E), "*" and spaces kept."""
    return "".join(chr(ord(c) + 0xFEE0) if c not in "* " else c for c in text)


MASKED = [
    ("nbsp", "a 4242\u00a04242\u00a04242\u00a04242 b", "a 4242\u00a042**\u00a0****\u00a04242 b"),
    ("figure space", "4242\u20074242\u20074242\u20074242", "4242\u200742**\u2007****\u20074242"),
    ("narrow nbsp", "4242\u202f4242\u202f4242\u202f4242", "4242\u202f42**\u202f****\u202f4242"),
    ("ideographic", "4242\u30004242\u30004242\u30004242", "4242\u300042**\u3000****\u30004242"),
    ("thin space", "5555\u20095555\u20095555\u20094444", "5555\u200955**\u2009****\u20094444"),
    ("zero width", "4242\u200b4242\u200b4242\u200b4242", "4242\u200b42**\u200b****\u200b4242"),
    ("fullwidth", wide("4242 4242 4242 4242"), wide("4242 42** **** 4242")),
    ("arabic-indic", "رقم ٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "رقم ٤٢٤٢٤٢******٤٢٤٢"),
    ("devanagari", "४२४२४२४२४२४२४२४२", "४२४२४२******४२४२"),
    ("doubled spaces", "4242  4242  4242  4242", "4242  42**  ****  4242"),
    ("amex 6-9", "amex 378282 246310005 ok", "amex 378282 *****0005 ok"),
    ("amex 6-5-4", "378282 24631 0005", "378282 ***** 0005"),
    ("glued right", "card:4012888888881881x", "card:401288******1881x"),
    ("glued left", "ref4242424242424242", "ref424242******4242"),
    ("newlines", "4242\n4242\n4242\n4242", "4242\n42**\n****\n4242"),
    ("crlf", "4242\r\n4242\r\n4242\r\n4242", "4242\r\n42**\r\n****\r\n4242"),
    ("plus", "GET /s?q=4242+4242+4242+4242 HTTP/1.1", "GET /s?q=4242+42**+****+4242 HTTP/1.1"),
    ("url plus", "q=4242%2B4242%2B4242%2B4242", "q=4242%2B42**%2B****%2B4242"),
    ("url nbsp", "q=4242%C2%A04242%C2%A04242%C2%A04242", "q=4242%C2%A042**%C2%A0****%C2%A04242"),
    ("underscores", "4242_4242_4242_4242", "4242_42**_****_4242"),
    ("commas", "card 4242,4242,4242,4242", "card 4242,42**,****,4242"),
    ("comma space", "4242, 4242, 4242, 4242", "4242, 42**, ****, 4242"),
    ("slashes", "4242/4242/4242/4242", "4242/42**/****/4242"),
    ("mixed", "4242 4242-4242.4242", "4242 42**-****.4242"),
    ("mixed wide", "4242 - 4242 / 4242_4242", "4242 - 42** / ****_4242"),
    ("en dash", "5555\u20135555\u20135555\u20134444", "5555\u201355**\u2013****\u20134444"),
    ("fullwidth plus", wide("4242+4242+4242+4242"), wide("4242+42**+****+4242")),
    ("fullwidth cvv", wide("cvv:737"), wide("cvv:***")),
]

UNCHANGED = [
    ("fullwidth timestamp", wide("ts=17000000000000")),
    ("fullwidth date", wide("2026-11-26 12:00")),
    ("thousands separators", "total 1,234,567,890,123,456"),
    ("spaced thousands", "total 1 234 567 890 123"),
    ("hex both sides", "deadbeef4242424242424242cafe a4242424242424242b"),
    ("decimal", "v=4242424242424242.5 w=3.4242424242424242"),
    ("decimal comma", "p=3,4242424242424242"),
    ("phone", "tel +1 415 555 0100, +44 20 7946 0958, +49 1512 3456789"),
    ("superscripts", "4²4²4²4²4²4²4²4²"),
    ("luhn invalid nbsp", "4242\u00a04242\u00a04242\u00a04241"),
    ("short groups", "4 2 4 2 4 2 4 2 4 2 4 2 4 2 4 2"),
    ("four spaces", "4242    4242    4242    4242"),
    ("number ending a line, date starting the next", "txn=TX3900609667\n2024-05-01 12:34"),
    ("amex 4-6-5 across lines", "3782\n822463\n10005"),
]


@pytest.mark.parametrize(("name", "text", "expected"), MASKED, ids=[c[0] for c in MASKED])
def test_shape_is_masked_in_the_original_text(name: str, text: str, expected: str) -> None:
    assert redact(text) == expected
    assert contains_card_data(text)


@pytest.mark.parametrize(("name", "text"), UNCHANGED, ids=[c[0] for c in UNCHANGED])
def test_look_alike_stays(name: str, text: str) -> None:
    assert redact(text) == text
    assert not contains_card_data(text)


def test_positions_point_at_the_original_digits() -> None:
    text = "x " + "\u00a0".join([wide("4242")] * 4) + " y"
    (match,) = find_cards(text)
    assert "".join(text[p] for p in match.positions) == wide("4242424242424242")
    assert match.pan.reveal() == "4242424242424242"
    assert text[match.start : match.end] == text[2:-2]
