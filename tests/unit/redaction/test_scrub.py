from __future__ import annotations

import json

import pytest

from cardshield.cards import luhn_check_digit
from cardshield.redaction.scrub import (
    REDACTED,
    SENSITIVE_KEYS,
    is_sensitive_key,
    normalize_key,
    scrub,
    scrub_field,
)
from tests.conftest import CANARY_PAN, assert_no_card_data

# Every sensitive key, as words; the spellings below are built from these.
WORDS = [
    ("pan",),
    ("number",),
    ("card", "number"),
    ("encrypted", "card", "number"),
    ("track",),
    ("cvv",),
    ("cvv2",),
    ("cvc",),
    ("cvc2",),
    ("cvn",),
    ("cvn2",),
    ("csc",),
    ("cid",),
    ("cav2",),
    ("security", "code"),
    ("encrypted", "security", "code"),
    ("card", "code"),
    ("card", "cvv"),
    ("card", "cvv2"),
    ("card", "cvc"),
    ("card", "cvc2"),
    ("card", "verification"),
    ("card", "verification", "value"),
    ("card", "verification", "code"),
    ("verification", "value"),
    ("verification", "code"),
]


def spellings(words: tuple[str, ...]) -> list[str]:
    camel = words[0] + "".join(w.capitalize() for w in words[1:])
    return [
        "_".join(words),  # card_number
        camel,  # cardNumber
        "-".join(w.capitalize() for w in words),  # Card-Number
        "".join(words).upper(),  # CARDNUMBER
        " ".join(words).title(),  # Card Number
        ".".join(words),  # card.number
        camel[0].upper() + camel[1:],  # CardNumber
        "_".join(words).upper(),  # CARD_NUMBER
        f"card[{'_'.join(words)}]",  # form-encoded: card[card_number]
        f"card%5B{camel}%5D",  # the same, URL-escaped
    ]


KEY_SPELLINGS = sorted({s for words in WORDS for s in spellings(words)})


def luhn_number(partial: str) -> str:
    return partial + luhn_check_digit(partial)


# A generated Mastercard number (not the canary), and a number one digit away from a card.
OTHER_PAN = luhn_number("522222000000000")
NOT_A_CARD = CANARY_PAN[:-1] + str((int(CANARY_PAN[-1]) + 1) % 10)


def test_the_words_cover_the_whole_denylist() -> None:
    assert {"".join(words) for words in WORDS} == SENSITIVE_KEYS


@pytest.mark.parametrize("key", KEY_SPELLINGS)
def test_every_spelling_of_a_sensitive_key_is_replaced(key: str) -> None:
    assert is_sensitive_key(key)
    document = {"id": "ch_1", key: CANARY_PAN, "nested": {key: 737}, "items": [{key: "x"}]}
    assert scrub(document) == {
        "id": "ch_1",
        key: REDACTED,
        "nested": {key: REDACTED},
        "items": [{key: REDACTED}],
    }


@pytest.mark.parametrize(
    "key",
    [
        "cardNumber",  # the old gateway list knew only card_number
        "Card-Number",
        "CARD_NUMBER",
        "securityCode",
        "Security-Code",
        "encrypted_card_number",  # Adyen's list knew only encryptedCardNumber
        "CVV",  # Adyen's and Square's lists were case-sensitive
        "Track",
        "Number",
    ],
)
def test_values_are_replaced_whatever_they_look_like(key: str) -> None:
    # A masked PAN, an opaque blob, a short code, a structure: all hidden by the key alone.
    for value in (CANARY_PAN, "adyenjs_0_1_25$AbCdEf", "12", {"value": "737"}, ["737"]):
        assert scrub({key: value}) == {key: REDACTED}


def test_none_and_booleans_under_a_sensitive_key_stay() -> None:
    # {"cvv": true} in an audit entry says a code was given; it cannot hold one.
    assert scrub({"cvv": True, "number": None, "track": False}) == {
        "cvv": True,
        "number": None,
        "track": False,
    }


@pytest.mark.parametrize(
    "key",
    [
        "cvv_attempts",
        "cvcResult",  # Adyen's CVC check outcome
        "cvv_status",  # Square's
        "phone_number",
        "number_of_items",
        "last4",
        "bin",
        "card",
        "codes",
        "tracking",
    ],
)
def test_keys_that_only_look_alike_are_kept(key: str) -> None:
    assert not is_sensitive_key(key)
    assert scrub({key: "M"}) == {key: "M"}


def test_a_pan_in_free_text_under_any_key_is_masked() -> None:
    document = {
        "description": f"refund for card {CANARY_PAN} (see ticket)",
        "events": [{"message": f"card 5222 2200 0000 000{OTHER_PAN[-1]} declined"}],
        "by_key": {CANARY_PAN: "value"},
        "tuple": ("x", OTHER_PAN),
        "bytes": f"raw {CANARY_PAN}".encode(),
        "error": ValueError(f"bad card {CANARY_PAN}"),
    }
    out = scrub(document)
    assert out["description"] == "refund for card 424242******4242 (see ticket)"
    assert out["events"] == [{"message": f"card 5222 22** **** 000{OTHER_PAN[-1]} declined"}]
    assert out["by_key"] == {"424242******4242": "value"}
    assert out["tuple"] == ["x", f"522222******{OTHER_PAN[-4:]}"]
    assert out["bytes"] == "raw 424242******4242"
    assert out["error"] == "ValueError: bad card 424242******4242"
    assert_no_card_data(json.dumps(out), (CANARY_PAN, OTHER_PAN))


def test_numbers_that_are_not_cards_are_kept() -> None:
    document = {
        "amount": 1099,
        "rate": 0.25,
        "order": NOT_A_CARD,  # Luhn-invalid
        "note": f"order {NOT_A_CARD}, call +1 415 555 0100 on 2026-11-26",
        "count": [1, 2, 3],
    }
    assert scrub(document) == document


def test_a_code_named_as_in_free_text_is_replaced() -> None:
    # The text redactor masks "the cvv: 123"; the same pair as a key and a value is masked.
    assert scrub({"the cvv": 123, "payment.cvc": "4567", "card[cvc]": 737}) == {
        "the cvv": REDACTED,
        "payment.cvc": REDACTED,
        "card[cvc]": REDACTED,
    }


def test_verbatim_keys_keep_their_strings_and_nothing_else() -> None:
    reference = luhn_number("411111111111111")  # a processor reference that passes Luhn
    document = {
        "pspReference": reference,
        "nested": {"pspReference": {"text": reference}},
        "other": reference,
        "number": reference,
    }
    out = scrub(document, verbatim={"pspReference", "number"})
    assert out == {
        "pspReference": reference,
        "nested": {"pspReference": {"text": f"411111******{reference[-4:]}"}},
        "other": f"411111******{reference[-4:]}",
        "number": REDACTED,  # a sensitive key is never kept verbatim
    }


def test_a_processor_document_keeps_its_shape_without_card_data() -> None:
    raw = {
        "id": "ch_1",
        "card": {"number": CANARY_PAN, "cvc": "737", "last4": "4242", "exp_month": 12},
        "credit-card": {"cvv": "737", "masked-number": "424242******4242"},
        "notes": [f"pan {CANARY_PAN}"],
        "amount": 100,
    }
    assert scrub(raw) == {
        "id": "ch_1",
        "card": {"number": REDACTED, "cvc": REDACTED, "last4": "4242", "exp_month": 12},
        "credit-card": {"cvv": REDACTED, "masked-number": "424242******4242"},
        "notes": ["pan 424242******4242"],
        "amount": 100,
    }


def test_scrub_field_is_scrub_of_one_item() -> None:
    for key, value in [("cvv", "737"), ("note", f"x {CANARY_PAN}"), ("cvv", None), ("n", 5)]:
        assert scrub_field(key, value) == scrub({key: value})[key]


def test_normalize_key() -> None:
    assert normalize_key("Card-Number") == "cardnumber"
    assert normalize_key("card number") == "cardnumber"
    assert normalize_key("card.Number") == "cardnumber"
    assert normalize_key("payment_method[card][cvc]") == "cvc"
    assert normalize_key("card%5Bnumber%5D") == "number"
    assert normalize_key("[]") == ""
