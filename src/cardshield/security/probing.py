"""Card probing: many different cards with the same BIN and last 4 from one API key.

A merchant sees the first 6 and last 4 digits of its customers' cards, which leaves about
10^5 candidates for the rest. The API returns nothing that is the same for the same card
(no fingerprint), so a candidate's answers cannot be compared with a stored card's; what
is left is saving a candidate and seeing whether it becomes an existing payment method,
one tokenization per candidate. Legitimate traffic almost never brings many different
cards that share a BIN and last 4 within an hour, so :func:`check` counts the *distinct*
cards per (publishable key, BIN, last 4) and per (merchant, BIN, last 4), the merchant's
count covering every key it may create, and refuses a new card past either limit with 429
``card_probing_detected``, a ``card_probing`` security event and an audit entry. A card
counted already in the window (a shopper trying again) is not refused.

The counts live in the rate-limit storage (Redis with several nodes), under the rules in
:data:`cardshield.security.ratelimit.RULES`; a card is known there only by a short digest
of its fingerprint, and the event and audit entry name it by its masked form only.
"""

from __future__ import annotations

from datetime import datetime

from limits import parse
from sqlalchemy import Engine

from cardshield.cards import PAN
from cardshield.security import events
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.security.audit import append as audit
from cardshield.security.errors import CardProbingDetected
from cardshield.security.ratelimit import RateLimiter

AUDIT_ACTION = "api_key.card_probing"
_SCOPES = ("key", "merchant")  # counted in this order; the key's count is the finer one


def probe_rules(*, per_key: str, per_merchant: str) -> dict[str, str]:
    """The rate-limit rules for the given limits (``"10/hour"``): each counter, and a
    one-per-window rule over the same window that marks a card as counted."""
    rules = {}
    for scope, limit in (("key", per_key), ("merchant", per_merchant)):
        item = parse(limit)  # ValueError for a malformed limit
        rules[f"tokenize_card_probe_{scope}"] = limit
        rules[f"tokenize_card_seen_{scope}"] = f"1/{item.multiples} {item.GRANULARITY.name}"
    return rules


def check(
    limiter: RateLimiter,
    engine: Engine,
    *,
    key: ApiKeyInfo,
    pan: PAN,
    card: str,
    now: datetime,
) -> None:
    """Count ``pan`` (known by ``card``, a per-merchant digest) for ``key``; raises
    CardProbingDetected, after the event and the audit entry, when a limit is passed."""
    counters = {
        "key": (key.id, pan.bin, pan.last4),
        "merchant": (key.merchant_id, pan.bin, pan.last4),
    }
    for scope in _SCOPES:
        ids = counters[scope]
        seen_rule = f"tokenize_card_seen_{scope}"
        if limiter.try_hit(seen_rule, *ids, card) is not None:
            continue  # this card was counted in this window already (a shopper's retry)
        retry_after = limiter.try_hit(f"tokenize_card_probe_{scope}", *ids)
        if retry_after is not None:
            limiter.clear(seen_rule, *ids, card)  # not counted: refused again if retried
            _refuse(engine, key=key, pan=pan, scope=scope, retry_after=retry_after, now=now)


def _refuse(
    engine: Engine, *, key: ApiKeyInfo, pan: PAN, scope: str, retry_after: int, now: datetime
) -> None:
    masked = pan.masked()  # first 6 and last 4 at most
    named = "api_key" if scope == "key" else "merchant"
    with engine.begin() as conn:
        audit(
            conn,
            now=now,
            actor=f"api_key:{key.id}",
            action=AUDIT_ACTION,
            outcome="refused",
            merchant_id=key.merchant_id,
            target=key.id,
            details={"masked": masked, "scope": named},
        )
    events.emit(
        events.CARD_PROBING,
        api_key=key.id,
        merchant=key.merchant_id,
        masked=masked,
        scope=named,
        retry_after=retry_after,
    )
    raise CardProbingDetected(retry_after)
