"""Rate limiting for HTTP routes: one :class:`RateLimiter` per app (memory, or Redis when
``CARDSHIELD_REDIS_URL`` is set), the dependency that limits tokenization, and the check
for card probing (:mod:`cardshield.security.probing`).

A limited request gets 429 ``rate_limited`` with ``Retry-After``; a probing one 429
``card_probing_detected``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from cardshield.cards import PAN
from cardshield.config import Settings
from cardshield.runtime import Runtime
from cardshield.security import probing
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.security.permissions import declare
from cardshield.security.ratelimit import RULES, RateLimiter
from cardshield.web.deps import PUBLISHABLE, as_publishable, cached_key, publishable_key_sync

_lock = threading.Lock()


def limiter_rules(settings: Settings) -> dict[str, str]:
    """Every rule, with the limits the settings change (``rate_limits``, card probing)."""
    return {
        **RULES,
        **settings.rate_limits,
        **probing.probe_rules(
            per_key=settings.card_probe_limit_per_key,
            per_merchant=settings.card_probe_limit_per_merchant,
        ),
    }


def app_limiter(
    app: Any,
    *,
    slot: str = "rate_limiter",
    rules: Callable[[Settings], Mapping[str, str]] = limiter_rules,
) -> RateLimiter:
    """The app's limiter kept in ``app.state.<slot>``, created on first use from its
    runtime's settings (a route with rules of its own keeps them in a slot of its own)."""
    found: RateLimiter | None = getattr(app.state, slot, None)
    if found is None:
        with _lock:
            found = getattr(app.state, slot, None)
            if found is None:
                settings = app.state.runtime.settings
                found = RateLimiter.for_redis(settings.redis_url, rules(settings))
                setattr(app.state, slot, found)
    return found


async def _limited_publishable(request: Request) -> ApiKeyInfo:
    # Per key and address stops one browser hammering; per key caps a distributed card-
    # testing run against one merchant's page. The key is authenticated first, so
    # unauthenticated floods never reach the counters. A remembered key counted in memory
    # needs no I/O and stays on the event loop; anything else (a key look-up, Redis) runs
    # key check and counting together in one thread-pool hop.
    limiter = app_limiter(request.app)
    ip = request.client.host if request.client else "-"
    cached = cached_key(request)
    if cached is not None and not limiter.shared:
        key = as_publishable(cached)
        _count_tokenize(limiter, key.id, ip)
        return key

    def look_up_and_count() -> ApiKeyInfo:
        key = publishable_key_sync(request)
        _count_tokenize(limiter, key.id, ip)
        return key

    return await run_in_threadpool(look_up_and_count)


def _count_tokenize(limiter: RateLimiter, key_id: str, ip: str) -> None:
    limiter.hit("tokenize_key_ip", key_id, ip)
    limiter.hit("tokenize_key", key_id)


declare(_limited_publishable, PUBLISHABLE)

# A publishable key, counted against the tokenize limits (429 rate_limited): POST /v1/tokens.
LimitedPublishableKey = Annotated[ApiKeyInfo, Depends(_limited_publishable)]


def check_card_probing(
    request: Request, runtime: Runtime, key: ApiKeyInfo, pan: PAN, *, now: datetime
) -> None:
    """Before a card is tokenized: CardProbingDetected when ``key`` (or its merchant) has
    brought too many different cards with this card's BIN and last 4 lately."""
    card = runtime.vault.card_digest(key.merchant_id, pan)
    probing.check(app_limiter(request.app), runtime.engine, key=key, pan=pan, card=card, now=now)
