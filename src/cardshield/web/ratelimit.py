"""Rate limiting for HTTP routes: one :class:`RateLimiter` per app (memory, or Redis when
``CARDSHIELD_REDIS_URL`` is set), and the dependency that limits tokenization.

A limited request gets 429 ``rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, Request

from cardshield.security.apikeys import ApiKeyInfo
from cardshield.security.ratelimit import RateLimiter
from cardshield.web.deps import PublishableKey

_lock = threading.Lock()


def app_limiter(app: Any) -> RateLimiter:
    """The app's limiter, created on first use from its runtime's settings."""
    found: RateLimiter | None = getattr(app.state, "rate_limiter", None)
    if found is None:
        with _lock:
            found = getattr(app.state, "rate_limiter", None)
            if found is None:
                found = RateLimiter.for_redis(app.state.runtime.settings.redis_url)
                app.state.rate_limiter = found
    return found


def _tokenize_limit(request: Request, key: PublishableKey) -> ApiKeyInfo:
    # Per key and address stops one browser hammering; per key caps a distributed card-
    # testing run against one merchant's page. The key is authenticated first (same
    # dependency, cached), so unauthenticated floods never reach the counters.
    limiter = app_limiter(request.app)
    ip = request.client.host if request.client else "-"
    limiter.hit("tokenize_key_ip", key.id, ip)
    limiter.hit("tokenize_key", key.id)
    return key


# ``dependencies=[TokenizeRateLimit]`` on POST /v1/tokens.
TokenizeRateLimit = Depends(_tokenize_limit)
LimitedPublishableKey = Annotated[ApiKeyInfo, TokenizeRateLimit]
