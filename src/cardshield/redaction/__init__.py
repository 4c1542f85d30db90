"""Redaction of card data: text (any string), logging (every process), audio (recordings)."""

from __future__ import annotations

from cardshield.redaction.text import contains_card_data, find_cards, redact

__all__ = ["contains_card_data", "find_cards", "redact"]
