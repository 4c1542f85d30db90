"""The answers a merchant or service provider gives the SAQ advisor, and their validation.

The file format is JSON described by ``schema/answers.schema.json`` (docs/saq.md has
examples). :func:`parse_answers` checks a decoded document against that schema and turns it
into a frozen :class:`Answers`; every problem becomes :class:`AnswersError` naming the field.
Messages never repeat the offending value: answers are not meant to hold card data, but a
mistaken paste must not be echoed to a terminal or a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from cardshield.errors import InvalidRequestError
from cardshield.redaction import redact

Entity = Literal["merchant", "service_provider"]

# Why a conditionally required field is needed, for the error message.
_NEEDED_WITH = {
    "script_controls": "needed when channels.ecommerce lists hosted_fields_iframe",
    "phone_keying": "needed when channels.phone lists agent_hears_card or virtual_terminal",
    "pos_system": "needed when channels.card_present lists pos_system",
    "service_provider": "needed when entity is service_provider",
    "ecommerce_share": "needed for merchants: the e-commerce share sets Levels 3 and 4",
}
_TYPES = {
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "a list",
}


class AnswersError(InvalidRequestError):
    """The answers file is unreadable or does not follow the answers schema."""

    code = "invalid_answers"
    default_message = "The answers are invalid."


@dataclass(frozen=True)
class Volume:
    """Yearly transactions of one brand and the share of them that were e-commerce."""

    yearly: int
    ecommerce_share: float = 0.0

    @property
    def ecommerce(self) -> int:
        return round(self.yearly * self.ecommerce_share)


@dataclass(frozen=True)
class Answers:
    entity: Entity
    channels: Mapping[str, tuple[str, ...]]
    card_data_in_merchant_systems: bool
    card_data_in_recordings: bool
    card_data_on_merchant_telephony: bool
    transactions: Mapping[str, Volume]
    past_compromise: bool
    cardshield_operator: Entity = "service_provider"
    designated_level_1: bool = False
    phone_keying_into: str | None = None
    isolated_device: bool = False
    pos_isolated: bool = False
    script_controls: bool = False
    provider_confirmation: bool = False
    sp_role: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def volume(self, brand: str) -> Volume:
        return self.transactions.get(brand, Volume(0))


@cache
def answers_schema() -> dict[str, Any]:
    """The JSON Schema of the answers format (shipped in the package)."""
    text = resources.files("cardshield.compliance").joinpath("schema", "answers.schema.json")
    return cast(dict[str, Any], json.loads(text.read_text("utf-8")))


def _path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problem(error: ValidationError, field: str) -> str:
    """What is wrong at ``field``, built from the schema, never from the rejected value."""
    kind, schema = error.validator, cast(Any, error.validator_value)
    if kind == "additionalProperties":
        node = error.schema if isinstance(error.schema, dict) else {}
        instance = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(k for k in instance if k not in node.get("properties", {}))
        return f"unknown field {redact(', '.join(extra))!r}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, schema))}"
    if kind == "const":
        return f"must be {json.dumps(schema)}"
    if kind == "type":
        return f"must be {_TYPES.get(str(schema), str(schema))}"
    if kind in ("minimum", "maximum"):
        return f"must be at {'least' if kind == 'minimum' else 'most'} {schema}"
    if kind == "uniqueItems":
        return "names a method twice"
    if kind == "anyOf" and field == "channels":
        return "a merchant names at least one method (ecommerce, phone or card_present)"
    return f"does not follow the answers schema ({kind})"


def _describe(error: ValidationError) -> tuple[str, str]:
    """The field at fault and a one-line message naming it."""
    where = list(error.absolute_path)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        names = cast(list[str], error.validator_value)
        missing = next((n for n in names if n not in instance), "?")
        field = _path([*where, missing])
        hint = _NEEDED_WITH.get(missing)
        return field, f"{field}: missing" + (f" ({hint})" if hint else "")
    field = _path(where)
    return field, f"{field}: {_problem(error, field)}"


def validate_answers(document: object) -> None:
    """Raise :class:`AnswersError` naming the first problem if ``document`` breaks the schema."""
    validator = jsonschema.Draft202012Validator(answers_schema())
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    first = best_match(errors)
    if first is None:  # pragma: no cover - best_match only returns None for no errors
        first = errors[0]
    more = len(errors) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    field, message = _describe(first)
    raise AnswersError(message + suffix, param=field)


def parse_answers(document: object) -> Answers:
    """Validate a decoded answers document and build :class:`Answers` from it."""
    validate_answers(document)
    doc = cast(dict[str, Any], document)
    card = doc["card_data"]
    keying = doc.get("phone_keying", {})
    scripts = doc.get("script_controls", {})
    return Answers(
        entity=doc["entity"],
        cardshield_operator=doc.get("cardshield_operator", "service_provider"),
        channels={name: tuple(methods) for name, methods in doc["channels"].items()},
        card_data_in_merchant_systems=card["reaches_merchant_systems"],
        card_data_in_recordings=card["in_recordings"],
        card_data_on_merchant_telephony=card["on_merchant_telephony"],
        transactions={
            brand: Volume(v["yearly"], float(v.get("ecommerce_share", 0.0)))
            for brand, v in doc["transactions"].items()
        },
        past_compromise=doc["past_compromise"],
        designated_level_1=doc.get("designated_level_1", False),
        phone_keying_into=keying.get("into"),
        isolated_device=keying.get("isolated_device", False),
        pos_isolated=doc.get("pos_system", {}).get("isolated", False),
        script_controls=scripts.get("requirements_6_4_3_and_11_6_1", False),
        provider_confirmation=scripts.get("provider_confirmation", False),
        sp_role=doc.get("service_provider", {}).get("role"),
        raw=doc,
    )


def load_answers(path: Path) -> Answers:
    """Read, decode and validate an answers file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnswersError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise AnswersError(f"{path} is not UTF-8 text") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswersError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from exc
    return parse_answers(document)
