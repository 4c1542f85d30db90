"""SAQ selection: one SAQ per payment channel, then the one SAQ (or set of SAQs) overall.

The eligibility criteria are data (``rules/saq.yaml``); this module only turns answers into
the facts of each channel, tries the SAQs from the least to the most demanding, and explains
the outcome: the criteria that hold for the chosen SAQ and the criteria that rule out each less
demanding SAQ of the same kind ("near misses").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cardshield.compliance.answers import Answers
from cardshield.compliance.conditions import Facts, RulesError
from cardshield.compliance.rules import CHANNELS, Criterion, Method, Rulebook, Saq, Source, Text


@dataclass(frozen=True)
class Reason:
    """One decision, why it was taken, and the public texts it rests on."""

    decision: str
    because: str
    rule: str
    sources: tuple[Source, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "because": self.because,
            "source": "; ".join(s.title for s in self.sources),
            "rule": self.rule,
            "urls": sorted({s.url for s in self.sources}),
        }


def reason_from(decision: str, rule: str, text: Text, facts: Mapping[str, object]) -> Reason:
    """Fill a rule's ``because`` template (numbers with thousands separators)."""
    shown = {
        k: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in facts.items()
    }
    return Reason(decision, text.because.format_map(shown), rule, text.sources)


@dataclass(frozen=True)
class MethodResult:
    channel: str
    method: str
    saq: str
    eligible: tuple[str, ...]
    facts: Mapping[str, Any]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ChannelSaq:
    """The SAQ of a whole channel: the least demanding one open to each of its methods."""

    channel: str
    saq: str
    methods: tuple[MethodResult, ...]
    covered: bool  # False: only SAQ D covers the methods together, though each has a lesser one

    def alternatives(self) -> tuple[str, ...]:
        if self.covered:
            return (self.saq,)
        return tuple(dict.fromkeys(m.saq for m in self.methods))


@dataclass(frozen=True)
class SaqResult:
    overall: str
    channels: tuple[ChannelSaq, ...]
    alternatives: tuple[str, ...]
    asv: bool
    asv_because: str
    reasons: tuple[Reason, ...]

    def per_channel(self) -> dict[str, str]:
        return {ch.channel: ch.saq for ch in self.channels}

    def per_method(self) -> dict[str, dict[str, str]]:
        return {ch.channel: {m.method: m.saq for m in ch.methods} for ch in self.channels}


def channel_facts(answers: Answers, method: Method) -> dict[str, Any]:
    """The facts the SAQ criteria read, for one method of one channel."""
    entry = method.entry_point
    if entry == "keyed":
        # Staff key what they hear; where they key it decides the SAQ.
        entry = answers.phone_keying_into or "merchant_systems"
    return {
        "entity": answers.entity,
        "cardshield_is_tpsp": answers.cardshield_operator == "service_provider",
        "channel": method.channel,
        "method": method.name,
        "entry_point": entry,
        "embedded": method.embedded,
        "isolated_device": answers.isolated_device,
        "pos_isolated": answers.pos_isolated,
        "script_controls": answers.script_controls,
        "provider_confirmation": answers.provider_confirmation,
        "card_data_in_merchant_systems": answers.card_data_in_merchant_systems,
        "card_data_in_recordings": answers.card_data_in_recordings,
        "card_data_on_merchant_telephony": answers.card_data_on_merchant_telephony,
    }


def _explain_met(saq: Saq, facts: Facts, label: str) -> list[Reason]:
    decision = f"{label}: SAQ {saq.code}"
    shown = [c for c in saq.criteria if not c.quiet and c.concerns(facts)]
    if not shown:  # SAQ D: no criterion but being a merchant
        because = f"{saq.title}; no less demanding SAQ's criteria all hold for this channel."
        return [Reason(decision, because, f"saq.{saq.code}", saq.sources)]
    return [Reason(decision, c.text, c.id, c.sources) for c in shown]


def _explain_missed(saq: Saq, failing: list[Criterion], label: str) -> Reason:
    because = "Requires: " + " Also requires: ".join(c.text for c in failing)
    sources = tuple(dict.fromkeys(s for c in failing for s in c.sources))
    return Reason(f"{label}: not SAQ {saq.code}", because, failing[0].id, sources)


def evaluate_method(rules: Rulebook, answers: Answers, method: Method) -> MethodResult:
    facts = channel_facts(answers, method)
    label = f"{method.channel}/{method.name}"
    eligible = [s for s in rules.saqs if all(c.holds(facts) for c in s.criteria)]
    if not eligible:
        raise RulesError(f"no SAQ is open to {label}; the rules lack a catch-all SAQ")
    chosen = eligible[0]
    reasons = []
    for saq in rules.saqs:
        if saq is chosen:
            break
        failing = [c for c in saq.criteria if not c.holds(facts)]
        near = method.channel in saq.relevant_to and all(
            c.holds(facts) for c in saq.criteria if c.defines
        )
        if failing and near:
            reasons.append(_explain_missed(saq, failing, label))
    reasons.extend(_explain_met(chosen, facts, label))
    if method.scope is not None and chosen.code in method.scope_saqs:
        reasons.append(reason_from(f"{label}: scope", f"method.{method.name}", method.scope, {}))
    return MethodResult(
        method.channel,
        method.name,
        chosen.code,
        tuple(s.code for s in eligible),
        facts,
        tuple(reasons),
    )


def _methods(rules: Rulebook, answers: Answers) -> Iterable[Method]:
    for channel in CHANNELS:
        for name in answers.channels.get(channel, ()):
            yield rules.methods[(channel, name)]


def _common(rules: Rulebook, methods: Iterable[MethodResult]) -> Saq:
    """The least demanding SAQ open to every one of ``methods`` (SAQ D is open to all)."""
    methods = tuple(methods)
    return next(s for s in rules.saqs if all(s.code in m.eligible for m in methods))


def _catch_all(code: str) -> bool:
    return code in ("D", "D-SP")


def _channel(rules: Rulebook, channel: str, methods: tuple[MethodResult, ...]) -> ChannelSaq:
    saq = _common(rules, methods).code
    lesser = list(dict.fromkeys(m.saq for m in methods))
    return ChannelSaq(channel, saq, methods, covered=not (_catch_all(saq) and lesser != [saq]))


def _channel_reason(rules: Rulebook, channel: ChannelSaq) -> Reason:
    detail = ", ".join(f"{m.method} {m.saq}" for m in channel.methods)
    key = "channel" if channel.covered else "channel_split"
    facts = {"saq": channel.saq, "channel": channel.channel, "methods": detail}
    facts["alternatives"] = " + ".join(channel.alternatives())
    decision = f"{channel.channel}: SAQ {channel.saq}"
    return reason_from(decision, f"saq.overall.{key}", rules.overall[key], facts)


def select_saq(rules: Rulebook, answers: Answers) -> SaqResult:
    """SAQs per method and channel, and overall: one SAQ, or SAQ D / one SAQ per channel."""
    results = [evaluate_method(rules, answers, m) for m in _methods(rules, answers)]
    reasons = [r for m in results for r in m.reasons]
    channels = []
    for name in CHANNELS:
        methods = tuple(m for m in results if m.channel == name)
        if methods:
            channels.append(_channel(rules, name, methods))
            if len(methods) > 1:
                reasons.append(_channel_reason(rules, channels[-1]))
    if not results:
        code = "D-SP" if answers.entity == "service_provider" else "D"
        text = rules.overall["none"]
        reasons.append(reason_from(f"overall: SAQ {code}", "saq.overall.none", text, {"saq": code}))
        saq = rules.saq(code)
        return SaqResult(code, (), (), saq.asv_when.holds({}), saq.asv_because, tuple(reasons))
    overall = _common(rules, results)
    alternatives = tuple(dict.fromkeys(a for ch in channels for a in ch.alternatives()))
    facts = {
        "saq": overall.code,
        "channels": ", ".join(ch.channel for ch in channels),
        "per_channel": ", ".join(f"{ch.channel} {'/'.join(ch.alternatives())}" for ch in channels),
        "fallback": overall.code,
        "alternatives": " + ".join(alternatives),
    }
    key = "split" if _catch_all(overall.code) and alternatives != (overall.code,) else "single"
    if key == "single":
        alternatives = ()
    decision = f"overall: SAQ {overall.code}"
    reasons.append(reason_from(decision, f"saq.overall.{key}", rules.overall[key], facts))
    asv = any(overall.asv_when.holds(m.facts) for m in results)
    return SaqResult(
        overall.code, tuple(channels), alternatives, asv, overall.asv_because, tuple(reasons)
    )
