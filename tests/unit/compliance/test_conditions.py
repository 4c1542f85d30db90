"""The rules' condition language: operators, combinators, and load-time rejection of mistakes."""

from __future__ import annotations

from typing import Any

import pytest

from cardshield.compliance import rules as rules_module
from cardshield.compliance.conditions import RulesError, parse

KNOWN = ("n", "s", "b")
FACTS = {"n": 10, "s": "phone", "b": True}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (True, True),
        (False, False),
        ({"fact": "n", "eq": 10}, True),
        ({"fact": "n", "ne": 10}, False),
        ({"fact": "n", "gt": 10}, False),
        ({"fact": "n", "ge": 10}, True),
        ({"fact": "n", "lt": 11}, True),
        ({"fact": "n", "le": 9}, False),
        ({"fact": "s", "in": ["ecommerce", "phone"]}, True),
        ({"fact": "s", "in": ["ecommerce"]}, False),
        ({"all": [{"fact": "b", "eq": True}, {"fact": "n", "gt": 1}]}, True),
        ({"all": [{"fact": "b", "eq": True}, {"fact": "n", "gt": 100}]}, False),
        ({"any": [{"fact": "b", "eq": False}, {"fact": "n", "gt": 1}]}, True),
        ({"any": [{"fact": "b", "eq": False}, {"fact": "n", "gt": 100}]}, False),
        ({"not": {"fact": "b", "eq": True}}, False),
    ],
)
def test_evaluation(data: Any, expected: bool) -> None:
    assert parse(data, KNOWN, "t").holds(FACTS) is expected


def test_facts_used_are_listed() -> None:
    condition = parse(
        {"any": [{"fact": "n", "gt": 1}, {"not": {"fact": "s", "eq": "x"}}]}, KNOWN, "t"
    )
    assert condition.facts() == {"n", "s"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fact": "nope", "eq": 1}, "unknown fact"),
        ({"fact": "n", "equals": 1}, "exactly one of"),
        ({"fact": "n", "eq": 1, "ne": 2}, "exactly one of"),
        ({"fact": "n", "gt": "ten"}, "needs a number"),
        ({"fact": "n", "gt": True}, "needs a number"),
        ({"fact": "s", "in": []}, "non-empty list"),
        ({"fact": "s", "eq": {"nested": 1}}, "a value must be"),
        ({"all": []}, "non-empty list"),
        ({"some": [True]}, "unknown key"),
        ({"all": [True], "any": [True]}, "one of fact/all/any/not"),
        ("yes", "must be true, false or a mapping"),
    ],
)
def test_mistakes_fail_at_load_time(data: Any, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        parse(data, KNOWN, "t")


def test_missing_or_mistyped_fact_at_evaluation_is_an_error_not_false() -> None:
    with pytest.raises(RulesError, match="not provided"):
        parse({"fact": "n", "eq": 1}, KNOWN, "t").holds({})
    with pytest.raises(RulesError, match="not a number"):
        parse({"fact": "s", "gt": 1}, KNOWN, "t").holds(FACTS)


def _broken(monkeypatch: pytest.MonkeyPatch, name: str, change: Any) -> None:
    original = rules_module._read

    def read(file: str) -> Any:
        data = original(file)
        return change(data) if file == name else data

    monkeypatch.setattr(rules_module, "_read", read)


def _drop_visa_catch_all(data: Any) -> Any:
    data["brands"]["visa"]["merchant"].pop()
    return data


def test_packaged_rules_load() -> None:
    rules = rules_module.load_rules.__wrapped__()
    assert len(rules.saqs) == 10 and len(rules.families) == 12


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            "saq.yaml",
            lambda d: {
                **d,
                "saqs": [{**d["saqs"][0], "source": ["no_such_source"]}, *d["saqs"][1:]],
            },
            "unknown or missing sources",
        ),
        ("levels.yaml", _drop_visa_catch_all, "last rule must be 'when: true'"),
        (
            "submit.yaml",
            lambda d: {"rules": [{**d["rules"][0], "because": "{no_such_fact}"}]},
            "unknown placeholder",
        ),
        (
            "saq.yaml",
            lambda d: {**d, "saqs": [{**d["saqs"][0], "criteria": [{"use": "missing"}]}]},
            "unknown shared criterion",
        ),
        ("methods.yaml", lambda d: {**d, "fax": {}}, "unknown channel"),
    ],
)
def test_malformed_rules_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, change: Any, message: str
) -> None:
    _broken(monkeypatch, name, change)
    with pytest.raises(RulesError, match=message):
        rules_module.load_rules.__wrapped__()
