"""Rate limits (the ``limits`` package, moving windows) for sign-in, MFA and tokenization.

One node keeps the counters in memory; several nodes share them in Redis
(``CARDSHIELD_REDIS_URL``), so a client cannot multiply its allowance by the node count.
Rate limits slow guessing down; the account lockout in :mod:`cardshield.security.signin`
(in the database) is what stops it, so a Redis outage lets requests through with an error
logged rather than locking every operator and shopper out.

The rules, one place::

    login_ip          20 per minute   sign-in form posts from one address
    login_user        10 per minute   sign-in attempts for one username
    mfa               10 per minute   second-factor codes for one pending session
    tokenize_key_ip   30 per minute   POST /v1/tokens per publishable key and address
    tokenize_key    3000 per minute   POST /v1/tokens per publishable key
    tokenize_card_probe_key       10 per hour   different cards with one BIN and last 4,
    tokenize_card_probe_merchant  50 per hour   per publishable key / per merchant
                                                (cardshield.security.probing; settings
                                                card_probe_limit_per_key, _per_merchant)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from cardshield.errors import ConfigError
from cardshield.security import events
from cardshield.security.errors import RateLimited
from cardshield.security.windows import MovingWindows

log = logging.getLogger("cardshield.ratelimit")

RULES: Mapping[str, str] = {
    "login_ip": "20/minute",
    "login_user": "10/minute",
    "mfa": "10/minute",
    "tokenize_key_ip": "30/minute",
    "tokenize_key": "3000/minute",
    # Card probing (cardshield.security.probing): the counters, and the rules that remember
    # for one window which cards each counter has counted already.
    "tokenize_card_probe_key": "10/hour",
    "tokenize_card_seen_key": "1/1 hour",
    "tokenize_card_probe_merchant": "50/hour",
    "tokenize_card_seen_merchant": "1/1 hour",
}


class RateLimiter:
    """Checks and counts hits against :data:`RULES` (or ``rules``)."""

    def __init__(self, storage_url: str = "memory://", rules: Mapping[str, str] = RULES):
        url = storage_url if "://" in storage_url else "memory://"
        self._rules: dict[str, RateLimitItem] = {name: parse(rule) for name, rule in rules.items()}
        # One node counts in its own memory (MovingWindows); several share Redis through the
        # limits package, which keeps the same moving windows there.
        self._memory: MovingWindows | None = None
        self._limiter: MovingWindowRateLimiter | None = None
        if url.startswith("memory://"):
            self._memory = MovingWindows()
            return
        try:
            self._storage = storage_from_string(url)
        except ConfigurationError as exc:
            raise ConfigError(f"rate limit storage {url.split('://')[0]!r}: {exc}") from exc
        self._limiter = MovingWindowRateLimiter(self._storage)

    @classmethod
    def for_redis(cls, redis_url: str | None, rules: Mapping[str, str] = RULES) -> RateLimiter:
        """Memory storage for one node, or the given Redis for several."""
        return cls(redis_url or "memory://", rules)

    @property
    def shared(self) -> bool:
        return self._memory is None

    def hit(self, rule: str, *key: str) -> None:
        """Count one request for ``key`` under ``rule``; RateLimited when over the limit."""
        retry_after = self.try_hit(rule, *key)
        if retry_after is None:
            return
        events.emit(events.RATE_LIMITED, rule=rule, retry_after=retry_after)
        raise RateLimited(retry_after)

    def try_hit(self, rule: str, *key: str) -> int | None:
        """Count one request; None when within the limit, else seconds until it would be."""
        item = self._rules[rule]
        if self._memory is not None:
            wait = self._memory.hit(_memory_key(rule, key), item.amount, item.get_expiry())
            return None if wait is None else max(1, math.ceil(wait))
        assert self._limiter is not None
        try:
            if self._limiter.hit(item, rule, *key):
                return None
            reset_at = self._limiter.get_window_stats(item, rule, *key).reset_time
        except Exception as exc:  # storage unreachable: let the request through, loudly
            log.error("rate limit storage failed (%s); not limiting", type(exc).__name__)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def clear(self, rule: str, *key: str) -> None:
        """Forget the requests counted for ``key`` under ``rule``."""
        if self._memory is not None:
            self._memory.clear(_memory_key(rule, key))
            return
        assert self._limiter is not None
        try:
            self._limiter.clear(self._rules[rule], rule, *key)
        except Exception as exc:  # as in try_hit: a storage failure limits nothing
            log.error("rate limit storage failed (%s); not limiting", type(exc).__name__)

    def reset(self) -> None:
        if self._memory is not None:
            self._memory.reset()
        else:
            self._storage.reset()


def _memory_key(rule: str, key: tuple[str, ...]) -> str:
    # The unit separator cannot occur in ids, addresses or digests, so no two keys collide.
    return "\x1f".join((rule, *key))
