"""Load the compliance rules (YAML shipped in ``cardshield/compliance/rules``) into typed objects.

Everything is checked here, once: each rule's condition against the facts its evaluator
provides, each source id against ``sources.yaml``, each placeholder against those facts. The
engine modules then work on plain frozen objects and never see raw YAML.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from cardshield.compliance.conditions import Condition, Constant, Facts, RulesError, parse

CHANNELS = ("ecommerce", "phone", "card_present")
ENTITIES = ("merchant", "service_provider")
BRANDS = ("visa", "mastercard")

# The facts each evaluator provides; rules may use no other.
CHANNEL_FACTS = frozenset(
    {
        "entity",
        "cardshield_is_tpsp",
        "channel",
        "method",
        "entry_point",
        "embedded",
        "isolated_device",
        "pos_isolated",
        "script_controls",
        "provider_confirmation",
        "card_data_in_merchant_systems",
        "card_data_in_recordings",
        "card_data_on_merchant_telephony",
    }
)
LEVEL_FACTS = frozenset(
    {
        "entity",
        "visa_total",
        "visa_ecommerce",
        "mastercard_total",
        "mastercard_ecommerce",
        "past_compromise",
        "designated_level_1",
        "sp_role",
        "visa_level",
        "mastercard_level",
    }
)
SUBMIT_FACTS = frozenset(
    {"entity", "level", "visa_level", "mastercard_level", "saq", "saq_asv", "asv_because"}
)


_ALWAYS = Constant(True)


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    url: str


@dataclass(frozen=True)
class Text:
    """A reason template and the sources it rests on."""

    because: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Method:
    channel: str
    name: str
    label: str
    entry_point: str
    embedded: bool
    scope: Text | None = None
    scope_saqs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Criterion:
    id: str
    text: str
    when: Condition
    sources: tuple[Source, ...]
    defines: bool
    quiet: bool
    applies: Condition = _ALWAYS

    def concerns(self, facts: Facts) -> bool:
        """Whether the criterion is about this channel at all (``applies`` in the data)."""
        return self.applies.holds(facts)

    def holds(self, facts: Facts) -> bool:
        return not self.concerns(facts) or self.when.holds(facts)


@dataclass(frozen=True)
class Saq:
    code: str
    title: str
    sources: tuple[Source, ...]
    relevant_to: tuple[str, ...]
    asv_when: Condition
    asv_because: str
    families: tuple[int, ...]
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class LevelRule:
    id: str
    level: int
    when: Condition
    text: Text


@dataclass(frozen=True)
class SubmitItem:
    item: str
    by: str
    frequency: str


@dataclass(frozen=True)
class SubmitRule:
    id: str
    when: Condition
    items: tuple[SubmitItem, ...]
    text: Text


@dataclass(frozen=True)
class Rulebook:
    sources: Mapping[str, Source]
    methods: Mapping[tuple[str, str], Method]
    saqs: tuple[Saq, ...]
    overall: Mapping[str, Text]
    levels: Mapping[tuple[str, str], tuple[LevelRule, ...]]
    level_overall: Mapping[str, Text]
    submit: tuple[SubmitRule, ...]
    families: Mapping[int, str]
    requirements: Mapping[str, Text]

    def saq(self, code: str) -> Saq:
        for saq in self.saqs:
            if saq.code == code:
                return saq
        raise RulesError(f"no SAQ {code!r} in the rules")


def _read(name: str) -> Any:
    text = resources.files("cardshield.compliance").joinpath("rules", name).read_text("utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"rules/{name} is not valid YAML") from exc


def _map(data: object, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise RulesError(f"{where}: expected a mapping")
    return data


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{where}: {key!r} must be a non-empty string")
    return " ".join(value.split())


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise RulesError(f"{where}: {key!r} must be a list")
    return value


def _template(text: str, facts: Collection[str], where: str) -> str:
    for _, field, _, _ in string.Formatter().parse(text):
        if field is not None and field not in facts:
            raise RulesError(f"{where}: unknown placeholder {{{field}}}")
    return text


class _Loader:
    def __init__(self) -> None:
        self.sources = {
            key: Source(key, _str(_map(v, key), "title", key), _str(_map(v, key), "url", key))
            for key, v in _map(_read("sources.yaml"), "sources.yaml").items()
        }

    def refs(self, data: Mapping[str, Any], where: str) -> tuple[Source, ...]:
        ids = _list(data, "source", where)
        missing = [i for i in ids if i not in self.sources]
        if not ids or missing:
            raise RulesError(f"{where}: unknown or missing sources {missing}")
        return tuple(self.sources[i] for i in ids)

    def text(self, data: object, facts: Collection[str], where: str) -> Text:
        body = _map(data, where)
        because = _template(_str(body, "because", where), facts, where)
        return Text(because, self.refs(body, where))

    def methods(self) -> dict[tuple[str, str], Method]:
        out: dict[tuple[str, str], Method] = {}
        for channel, entries in _map(_read("methods.yaml"), "methods.yaml").items():
            if channel not in CHANNELS:
                raise RulesError(f"methods.yaml: unknown channel {channel!r}")
            for name, raw in _map(entries, channel).items():
                where = f"methods.{channel}.{name}"
                body = _map(raw, where)
                scope = body.get("scope")
                out[(channel, name)] = Method(
                    channel,
                    name,
                    _str(body, "label", where),
                    _str(body, "entry_point", where),
                    bool(body.get("embedded", False)),
                    self.text({"because": scope["text"], "source": scope["source"]}, (), where)
                    if isinstance(scope, Mapping)
                    else None,
                    tuple(scope["saqs"]) if isinstance(scope, Mapping) else (),
                )
        return out

    def criterion(self, raw: object, shared: Mapping[str, Any], where: str) -> Criterion:
        body = _map(raw, where)
        if "use" in body:
            name = body["use"]
            if name not in shared:
                raise RulesError(f"{where}: unknown shared criterion {name!r}")
            body = {"id": f"shared.{name}", **_map(shared[name], name)}
        cid = _str(body, "id", where)
        return Criterion(
            cid,
            _str(body, "text", cid),
            parse(body.get("when"), CHANNEL_FACTS, f"{cid}.when"),
            self.refs(body, cid),
            bool(body.get("defines", False)),
            bool(body.get("quiet", False)),
            parse(body.get("applies", True), CHANNEL_FACTS, f"{cid}.applies"),
        )

    def saqs(self, data: Mapping[str, Any]) -> tuple[Saq, ...]:
        shared = _map(data.get("shared", {}), "saq.shared")
        out = []
        for i, raw in enumerate(_list(data, "saqs", "saq.yaml")):
            body = _map(raw, f"saq.saqs[{i}]")
            code = _str(body, "code", f"saq.saqs[{i}]")
            relevant = tuple(_list(body, "relevant_to", code))
            families = tuple(_list(body, "families", code))
            if not set(relevant) <= set(CHANNELS) or not set(families) <= set(range(1, 13)):
                raise RulesError(f"{code}: bad relevant_to or families")
            criteria = tuple(
                self.criterion(c, shared, f"{code}.criteria[{j}]")
                for j, c in enumerate(_list(body, "criteria", code))
            )
            out.append(
                Saq(
                    code,
                    _str(body, "title", code),
                    self.refs(body, code),
                    relevant,
                    parse(body.get("asv_when"), CHANNEL_FACTS, f"{code}.asv_when"),
                    " ".join(str(body.get("asv_because", "")).split()),
                    families,
                    criteria,
                )
            )
        return tuple(out)

    def levels(self, data: Mapping[str, Any]) -> dict[tuple[str, str], tuple[LevelRule, ...]]:
        out: dict[tuple[str, str], tuple[LevelRule, ...]] = {}
        brands = _map(data.get("brands"), "levels.brands")
        for brand in BRANDS:
            for entity in ENTITIES:
                rules = []
                for raw in _list(_map(brands.get(brand), brand), entity, f"{brand}"):
                    body = _map(raw, f"{brand}.{entity}")
                    rid = _str(body, "id", f"{brand}.{entity}")
                    level = body.get("level")
                    if level not in (1, 2, 3, 4):
                        raise RulesError(f"{rid}: level must be 1 to 4")
                    when = parse(body.get("when"), LEVEL_FACTS, f"{rid}.when")
                    rules.append(LevelRule(rid, level, when, self.text(body, LEVEL_FACTS, rid)))
                if not rules or rules[-1].when != _ALWAYS:
                    raise RulesError(f"levels {brand}.{entity}: the last rule must be 'when: true'")
                out[(brand, entity)] = tuple(rules)
        return out

    def submit(self, data: Mapping[str, Any]) -> tuple[SubmitRule, ...]:
        out = []
        for i, raw in enumerate(_list(data, "rules", "submit.yaml")):
            body = _map(raw, f"submit.rules[{i}]")
            rid = _str(body, "id", f"submit.rules[{i}]")
            items = tuple(
                SubmitItem(
                    _template(_str(_map(it, rid), "item", rid), SUBMIT_FACTS, rid),
                    _str(_map(it, rid), "by", rid),
                    _str(_map(it, rid), "frequency", rid),
                )
                for it in _list(body, "items", rid)
            )
            when = parse(body.get("when"), SUBMIT_FACTS, f"{rid}.when")
            out.append(SubmitRule(rid, when, items, self.text(body, SUBMIT_FACTS, rid)))
        return tuple(out)


@cache
def load_rules() -> Rulebook:
    """The packaged rulebook (parsed and checked once per process)."""
    loader = _Loader()
    saq_data = _map(_read("saq.yaml"), "saq.yaml")
    level_data = _map(_read("levels.yaml"), "levels.yaml")
    req_data = _map(_read("requirements.yaml"), "requirements.yaml")
    overall_facts = (
        "saq",
        "channel",
        "channels",
        "methods",
        "per_channel",
        "fallback",
        "alternatives",
    )
    families = {
        int(k): " ".join(str(v).split()) for k, v in _map(req_data["families"], "f").items()
    }
    if sorted(families) != list(range(1, 13)):
        raise RulesError("requirements.yaml: families must be 1 to 12")
    return Rulebook(
        sources=loader.sources,
        methods=loader.methods(),
        saqs=loader.saqs(saq_data),
        overall={
            key: loader.text(value, overall_facts, f"saq.overall.{key}")
            for key, value in _map(saq_data.get("overall"), "saq.overall").items()
        },
        levels=loader.levels(level_data),
        level_overall={
            entity: loader.text(
                _map(level_data.get("overall"), "levels.overall").get(entity),
                LEVEL_FACTS,
                f"levels.overall.{entity}",
            )
            for entity in ENTITIES
        },
        submit=loader.submit(_map(_read("submit.yaml"), "submit.yaml")),
        families=families,
        requirements={
            key: loader.text(value, ("saq", "families"), f"requirements.rules.{key}")
            for key, value in _map(req_data.get("rules"), "requirements.rules").items()
        },
    )
