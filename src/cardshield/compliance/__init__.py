"""Compliance: the SAQ and merchant-level advisor (rules as data, with reasons and sources)."""

from __future__ import annotations

from cardshield.compliance.advisor import Advice, advise
from cardshield.compliance.answers import Answers, AnswersError, load_answers, parse_answers

__all__ = ["Advice", "Answers", "AnswersError", "advise", "load_answers", "parse_answers"]
