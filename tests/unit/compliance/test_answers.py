"""The answers format: schema, examples, and errors that name the field and echo no value."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cardshield.compliance import AnswersError, advise, load_answers, parse_answers
from cardshield.compliance.answers import answers_schema
from tests.conftest import CANARY_PAN, assert_no_card_data

EXAMPLES = sorted((Path(__file__).parents[3] / "examples" / "saq").glob("*.json"))
VALID: dict[str, Any] = {
    "version": 1,
    "entity": "merchant",
    "channels": {"ecommerce": ["hosted_fields_iframe"], "phone": ["agent_hears_card"]},
    "card_data": {
        "reaches_merchant_systems": False,
        "in_recordings": False,
        "on_merchant_telephony": False,
    },
    "script_controls": {"requirements_6_4_3_and_11_6_1": True, "provider_confirmation": False},
    "phone_keying": {"into": "virtual_terminal", "isolated_device": True},
    "transactions": {
        "visa": {"yearly": 1000, "ecommerce_share": 0.5},
        "mastercard": {"yearly": 1000, "ecommerce_share": 0.5},
    },
    "past_compromise": False,
}


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(answers_schema())


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_validate_and_get_advice(path: Path) -> None:
    answers = load_answers(path)
    advice = advise(answers).to_dict()
    assert advice["saq"]["overall"] and advice["submit"]


def test_parsed_answers_carry_every_field() -> None:
    answers = parse_answers(VALID)
    assert answers.channels == {
        "ecommerce": ("hosted_fields_iframe",),
        "phone": ("agent_hears_card",),
    }
    assert (answers.script_controls, answers.provider_confirmation) == (True, False)
    assert (answers.phone_keying_into, answers.isolated_device) == ("virtual_terminal", True)
    assert answers.cardshield_operator == "service_provider"
    assert answers.volume("visa").ecommerce == 500
    assert answers.volume("maestro").yearly == 0


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message", "param"),
    [
        ("entity", _DELETE, "entity: missing", "entity"),
        ("entity", "acquirer", "entity: must be one of merchant, service_provider", "entity"),
        ("version", 2, "version: must be 1", "version"),
        ("past_compromise", "no", "past_compromise: must be true or false", "past_compromise"),
        (
            "channels.ecommerce",
            ["iframe"],
            "channels.ecommerce[0]: must be one of hosted_fields_iframe",
            "channels.ecommerce[0]",
        ),
        (
            "channels.ecommerce",
            ["full_redirect", "full_redirect"],
            "channels.ecommerce: names a method twice",
            "channels.ecommerce",
        ),
        ("channels", {}, "channels: a merchant names at least one method", "channels"),
        (
            "script_controls",
            _DELETE,
            "script_controls: missing (needed when channels.ecommerce lists hosted_fields_iframe)",
            "script_controls",
        ),
        (
            "phone_keying",
            _DELETE,
            "phone_keying: missing (needed when channels.phone lists agent_hears_card",
            "phone_keying",
        ),
        (
            "transactions.visa.ecommerce_share",
            1.5,
            "transactions.visa.ecommerce_share: must be at most 1",
            "transactions.visa.ecommerce_share",
        ),
        (
            "transactions.visa.ecommerce_share",
            _DELETE,
            "transactions.visa.ecommerce_share: missing (needed for merchants",
            "transactions.visa.ecommerce_share",
        ),
        (
            "transactions.mastercard.yearly",
            -1,
            "transactions.mastercard.yearly: must be at least 0",
            "transactions.mastercard.yearly",
        ),
        (
            "card_data.in_recordings",
            _DELETE,
            "card_data.in_recordings: missing",
            "card_data.in_recordings",
        ),
        ("colour", "blue", "(top level): unknown field 'colour'", "(top level)"),
    ],
)
def test_schema_errors_name_the_field(path: str, value: Any, message: str, param: str) -> None:
    with pytest.raises(AnswersError) as info:
        parse_answers(_set(VALID, path, value))
    assert info.value.message.startswith(message)
    assert info.value.param == param
    assert info.value.http_status == 400


def test_service_provider_needs_its_role() -> None:
    doc = _set(VALID, "entity", "service_provider")
    with pytest.raises(AnswersError, match="service_provider: missing"):
        parse_answers(doc)


def test_several_problems_are_counted() -> None:
    doc = _set(_set(VALID, "entity", _DELETE), "version", 3)
    with pytest.raises(AnswersError, match=r"\(and 1 more problem\)$"):
        parse_answers(doc)


def test_errors_never_echo_a_card_number() -> None:
    pasted_key = _set(VALID, CANARY_PAN, "x")
    pasted_value = _set(VALID, "channels.phone", [CANARY_PAN])
    pasted_number = _set(VALID, "transactions.visa.yearly", CANARY_PAN)
    for doc in (pasted_key, pasted_value, pasted_number):
        with pytest.raises(AnswersError) as info:
            parse_answers(doc)
        assert_no_card_data(info.value.message + str(info.value.param))


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AnswersError, match="cannot read"):
        load_answers(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,\n  "entity": }\n')
    with pytest.raises(AnswersError, match=r"not valid JSON \(line 2, column 13\)"):
        load_answers(broken)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"entity": "caf\xe9"}')
    with pytest.raises(AnswersError, match="not UTF-8"):
        load_answers(latin)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(VALID))
    assert load_answers(good).entity == "merchant"


def test_the_documented_example_is_valid() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "saq.md").read_text()
    example = docs.split("```json\n", 1)[1].split("```", 1)[0]
    answers = parse_answers(json.loads(example))
    assert answers.channels["phone"] == ("cardshield_ivr", "agent_hears_card")
