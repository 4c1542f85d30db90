"""The SAQ and level advice: what applies, what to submit, and why.

:func:`advise` runs the three rule sets in order (SAQ per channel and overall, brand levels,
submissions) and collects every decision's reason. :meth:`Advice.to_dict` is the JSON printed
by ``cardshield saq --json`` (its shape is documented in docs/saq.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardshield.compliance.answers import Answers
from cardshield.compliance.levels import LevelResult, assign_levels
from cardshield.compliance.rules import Rulebook, load_rules
from cardshield.compliance.saq import Reason, SaqResult, reason_from, select_saq


@dataclass(frozen=True)
class Submission:
    item: str
    by: str
    frequency: str

    def to_dict(self) -> dict[str, str]:
        return {"item": self.item, "by": self.by, "frequency": self.frequency}


@dataclass(frozen=True)
class Advice:
    saq: SaqResult
    level: LevelResult
    submit: tuple[Submission, ...]
    requirements: tuple[tuple[int, str], ...]
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "saq": {
                "overall": self.saq.overall,
                "per_channel": self.saq.per_channel(),
                "per_method": self.saq.per_method(),
                "alternatives": list(self.saq.alternatives),
                "asv_scans": self.saq.asv,
            },
            "level": self.level.to_dict(),
            "submit": [s.to_dict() for s in self.submit],
            "requirements": [{"id": n, "title": t} for n, t in self.requirements],
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _submissions(
    rules: Rulebook, saq: SaqResult, level: LevelResult
) -> tuple[tuple[Submission, ...], list[Reason]]:
    facts: dict[str, Any] = {
        "entity": level.entity,
        "level": level.overall,
        "visa_level": level.visa,
        "mastercard_level": level.mastercard,
        "saq": saq.overall,
        "saq_asv": saq.asv,
        "asv_because": saq.asv_because,
    }
    items: dict[str, Submission] = {}
    reasons = []
    for rule in rules.submit:
        if not rule.when.holds(facts):
            continue
        added = []
        for spec in rule.items:
            name = spec.item.format_map(facts)
            if name not in items:  # an earlier, more specific rule already set it
                items[name] = Submission(name, spec.by, spec.frequency)
                added.append(name)
        if added:
            reasons.append(reason_from(f"submit: {', '.join(added)}", rule.id, rule.text, facts))
    return tuple(items.values()), reasons


def _requirements(
    rules: Rulebook, saq: SaqResult, submit: tuple[Submission, ...]
) -> tuple[tuple[tuple[int, str], ...], Reason]:
    if any(s.item == "ROC" for s in submit):
        numbers = tuple(range(1, 13))
        text, rule = rules.requirements["roc"], "requirements.roc"
    else:
        numbers = rules.saq(saq.overall).families
        text, rule = rules.requirements["saq"], "requirements.saq"
    facts = {"saq": saq.overall, "families": ", ".join(map(str, numbers))}
    reason = reason_from(f"requirements: {facts['families']}", rule, text, facts)
    return tuple((n, rules.families[n]) for n in numbers), reason


def advise(answers: Answers, rules: Rulebook | None = None) -> Advice:
    """Everything the advisor decides for ``answers``, with reasons."""
    book = rules or load_rules()
    saq = select_saq(book, answers)
    level = assign_levels(book, answers)
    submit, submit_reasons = _submissions(book, saq, level)
    requirements, req_reason = _requirements(book, saq, submit)
    reasons = (*saq.reasons, *level.reasons, *submit_reasons, req_reason)
    return Advice(saq, level, submit, requirements, reasons)
