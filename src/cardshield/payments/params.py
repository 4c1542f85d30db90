"""Checks of the caller's parameters, before anything is written.

Free text a merchant sends (description, metadata, return URL, refund reason) that holds
card data, in any shape the redactor knows (Unicode spaces and digits, mixed separators,
glued letters), is refused with ``card_data_in_text`` by :func:`refuse_card_data` before
anything is written, the idempotency record included: no view, event, webhook or log can
then carry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cardshield.cards import Expiry
from cardshield.errors import CardDataInText, ExpiredCard
from cardshield.payments.errors import InvalidParameter
from cardshield.payments.states import PaymentStatus
from cardshield.redaction.text import contains_card_data
from cardshield.vault.errors import TokenAlreadyUsed, TokenExpired
from cardshield.vault.service import CardRecord, Vault

CAPTURE_METHODS = ("automatic", "manual")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
MAX_METADATA_KEYS = 50
MAX_KEY = 40
MAX_VALUE = 500
MAX_DESCRIPTION = 500
MAX_URL = 2000
MAX_LIMIT = 100


def capture_method(value: str) -> str:
    if value not in CAPTURE_METHODS:
        raise InvalidParameter(
            "capture_method must be automatic or manual.", param="capture_method"
        )
    return value


def description(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidParameter(
            f"description must be text of at most {MAX_DESCRIPTION} characters.",
            param="description",
        )
    return value


def _refuse(value: object, param: str) -> None:
    if isinstance(value, str) and contains_card_data(value):
        raise CardDataInText(param=param)


def refuse_card_data(
    *,
    description: object = None,
    metadata: object = None,
    return_url: object = None,
    reason: object = None,
) -> None:
    """Raise :class:`CardDataInText` naming the first free-text field that holds card data."""
    _refuse(description, "description")
    if isinstance(metadata, Mapping):
        for key, item in metadata.items():
            _refuse(key, "metadata")  # the key itself is never echoed back as the param
            _refuse(item, f"metadata[{key}]")
    _refuse(return_url, "return_url")
    _refuse(reason, "reason")


def metadata(value: Mapping[str, Any] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_METADATA_KEYS:
        raise InvalidParameter(
            f"metadata must be an object with at most {MAX_METADATA_KEYS} keys.", param="metadata"
        )
    cleaned: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
            raise InvalidParameter(
                f"metadata keys must be 1 to {MAX_KEY} characters.", param="metadata"
            )
        if not isinstance(item, str) or len(item) > MAX_VALUE:
            raise InvalidParameter(
                f"metadata values must be text of at most {MAX_VALUE} characters.",
                param=f"metadata[{key}]",
            )
        cleaned[key] = item
    return cleaned


def return_url(value: str | None) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_URL
        or not value.startswith(("https://", "http://"))
    ):
        raise InvalidParameter(
            "return_url must be an http(s) URL of at most 2000 characters.", param="return_url"
        )
    return value


def refund_reason(value: str | None) -> str | None:
    if value is not None and value not in REFUND_REASONS:
        raise InvalidParameter(
            f"reason must be one of {', '.join(REFUND_REASONS)}.", param="reason"
        )
    return value


def limit(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidParameter(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    return value


def status(value: str | None) -> str | None:
    if value is not None and value not in {s.value for s in PaymentStatus}:
        raise InvalidParameter("status is not a payment status.", param="status")
    return value


def usable_card(vault: Vault, merchant_id: str, token: str, now: datetime) -> CardRecord:
    """The card behind ``token``, if it can be charged now (nothing is written)."""
    card = vault.retrieve(merchant_id, token)  # resource_missing (404) if unknown
    if card.single_use and card.used_at is not None:
        raise TokenAlreadyUsed(param="token")
    if card.expires_at is not None and card.expires_at <= now:
        raise TokenExpired(param="token")
    if Expiry(card.exp_year, card.exp_month).is_expired(now):
        raise ExpiredCard(param="token")
    return card
