"""The small condition language the compliance rules are written in.

A condition is YAML/JSON data:

* ``true`` / ``false``: always / never;
* ``{fact: NAME, OP: VALUE}`` with OP one of ``eq``, ``ne``, ``gt``, ``ge``, ``lt``, ``le``
  (numbers only) or ``in`` (a list of values);
* ``{all: [c, ...]}``, ``{any: [c, ...]}``, ``{not: c}``.

Conditions are parsed once, when the rules load, against the list of facts the evaluator
provides, so a misspelt fact or operator fails at load time and never silently evaluates to
false on a merchant's answers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from cardshield.errors import InternalError

Fact = bool | int | float | str | None
Facts = Mapping[str, Fact]

_ORDERED: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_OPERATORS = frozenset({"eq", "ne", "in", *_ORDERED})


class RulesError(InternalError):
    """The packaged rules data is malformed (a defect of the release, not of the answers)."""

    code = "invalid_rules"
    default_message = "The compliance rules data is invalid."


class Condition(Protocol):
    def holds(self, facts: Facts) -> bool: ...

    def facts(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Constant:
    value: bool

    def holds(self, facts: Facts) -> bool:
        return self.value

    def facts(self) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True)
class Compare:
    fact: str
    op: str
    value: Fact | tuple[Fact, ...]

    def holds(self, facts: Facts) -> bool:
        try:
            actual = facts[self.fact]
        except KeyError:
            raise RulesError(f"the fact {self.fact!r} was not provided") from None
        if self.op == "eq":
            return actual == self.value
        if self.op == "ne":
            return actual != self.value
        if self.op == "in":
            assert isinstance(self.value, tuple)
            return actual in self.value
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            raise RulesError(f"the fact {self.fact!r} is not a number")
        assert isinstance(self.value, int | float)
        return _ORDERED[self.op](actual, self.value)

    def facts(self) -> frozenset[str]:
        return frozenset({self.fact})


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return all(part.holds(facts) for part in self.parts)

    def facts(self) -> frozenset[str]:
        return frozenset().union(*(part.facts() for part in self.parts))


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return any(part.holds(facts) for part in self.parts)

    def facts(self) -> frozenset[str]:
        return frozenset().union(*(part.facts() for part in self.parts))


@dataclass(frozen=True)
class Not:
    part: Condition

    def holds(self, facts: Facts) -> bool:
        return not self.part.holds(facts)

    def facts(self) -> frozenset[str]:
        return self.part.facts()


def _scalar(value: object, where: str) -> Fact:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise RulesError(f"{where}: a value must be a string, number, boolean or null")


def _compare(data: Mapping[str, object], known: Collection[str], where: str) -> Compare:
    fact = data["fact"]
    ops = [key for key in data if key != "fact"]
    if not isinstance(fact, str) or fact not in known:
        raise RulesError(f"{where}: unknown fact {fact!r}")
    if len(ops) != 1 or ops[0] not in _OPERATORS:
        raise RulesError(f"{where}: a comparison needs exactly one of {sorted(_OPERATORS)}")
    op = ops[0]
    raw = data[op]
    if op == "in":
        if not isinstance(raw, list) or not raw:
            raise RulesError(f"{where}: 'in' needs a non-empty list")
        return Compare(fact, op, tuple(_scalar(item, where) for item in raw))
    value = _scalar(raw, where)
    if op in _ORDERED and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise RulesError(f"{where}: {op!r} needs a number")
    return Compare(fact, op, value)


def parse(data: object, known: Collection[str], where: str) -> Condition:
    """Build a condition from rules data; ``known`` are the fact names it may use."""
    if isinstance(data, bool):
        return Constant(data)
    if not isinstance(data, Mapping):
        raise RulesError(f"{where}: a condition must be true, false or a mapping")
    if "fact" in data:
        return _compare(data, known, where)
    if len(data) != 1:
        raise RulesError(f"{where}: use one of fact/all/any/not per mapping")
    (key, value), *_ = data.items()
    if key == "not":
        return Not(parse(value, known, f"{where}.not"))
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise RulesError(f"{where}: {key!r} needs a non-empty list")
        parts = tuple(parse(item, known, f"{where}.{key}[{i}]") for i, item in enumerate(value))
        return AllOf(parts) if key == "all" else AnyOf(parts)
    raise RulesError(f"{where}: unknown key {key!r}")
