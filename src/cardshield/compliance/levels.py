"""Merchant and service-provider levels under the Visa and Mastercard programmes.

The thresholds are data (``rules/levels.yaml``). Visa is evaluated first so that Mastercard's
rules can refer to the Visa level; the overall level is the most demanding of the two.
Other brands (American Express, Discover, JCB, ...) run their own programmes and are not
levelled here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardshield.compliance.answers import Answers
from cardshield.compliance.rules import LevelRule, Rulebook
from cardshield.compliance.saq import Reason, reason_from


@dataclass(frozen=True)
class LevelResult:
    entity: str
    visa: int
    mastercard: int
    reasons: tuple[Reason, ...]

    @property
    def overall(self) -> int:
        return min(self.visa, self.mastercard)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "visa": self.visa,
            "mastercard": self.mastercard,
            "overall": self.overall,
        }


def level_facts(answers: Answers) -> dict[str, Any]:
    """Volumes as the brands count them: Mastercard levels add Maestro to Mastercard."""
    visa = answers.volume("visa")
    mastercard, maestro = answers.volume("mastercard"), answers.volume("maestro")
    return {
        "entity": answers.entity,
        "visa_total": visa.yearly,
        "visa_ecommerce": visa.ecommerce,
        "mastercard_total": mastercard.yearly + maestro.yearly,
        "mastercard_ecommerce": mastercard.ecommerce + maestro.ecommerce,
        "past_compromise": answers.past_compromise,
        "designated_level_1": answers.designated_level_1,
        "sp_role": answers.sp_role,
        "visa_level": None,
        "mastercard_level": None,
    }


def _brand_level(
    brand: str, rules: tuple[LevelRule, ...], facts: dict[str, Any]
) -> tuple[int, list[Reason]]:
    """The first rule that holds sets the level; the others at that level are reported too."""
    level = next(rule.level for rule in rules if rule.when.holds(facts))
    reasons = [
        reason_from(f"level: {brand} {level}", rule.id, rule.text, facts)
        for rule in rules
        if rule.level == level and rule.when.holds(facts)
    ]
    return level, reasons


def assign_levels(rules: Rulebook, answers: Answers) -> LevelResult:
    facts = level_facts(answers)
    entity = answers.entity
    visa, visa_reasons = _brand_level("Visa", rules.levels[("visa", entity)], facts)
    facts["visa_level"] = visa
    mastercard, mc_reasons = _brand_level("Mastercard", rules.levels[("mastercard", entity)], facts)
    facts["mastercard_level"] = mastercard
    overall = reason_from(
        f"level: overall {min(visa, mastercard)}",
        f"level.overall.{entity}",
        rules.level_overall[entity],
        facts,
    )
    return LevelResult(entity, visa, mastercard, (*visa_reasons, *mc_reasons, overall))
