"""What console pages work with, built once per app from its runtime.

Tests (and embedders) may put their own :class:`ConsoleServices` on ``app.state.console``
before the first request, e.g. with cheaper password-hashing parameters or a payment
service wired to a particular processor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request

from cardshield.crypto.kms import KMSProvider
from cardshield.runtime import Runtime
from cardshield.security.operators import Operators
from cardshield.security.passwords import PasswordHasher
from cardshield.security.ratelimit import RateLimiter
from cardshield.security.security_keys import RelyingParty
from cardshield.security.signin import SignIn
from cardshield.web.ratelimit import app_limiter, limiter_rules

_lock = threading.Lock()


@dataclass
class ConsoleServices:
    runtime: Runtime
    accounts: Operators
    signin: SignIn
    limiter: RateLimiter
    # The payments service behind the capture, refund and void buttons (the runtime's by
    # default); None shows payments read-only.
    payments: Any = None
    # Where security keys are bound (console_url); None: the console cannot offer them.
    relying_party: RelyingParty | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        runtime: Runtime,
        *,
        hasher: PasswordHasher | None = None,
        limiter: RateLimiter | None = None,
        payments: Any = None,
    ) -> ConsoleServices:
        accounts = Operators(runtime.engine, runtime.kms, hasher=hasher)
        return cls(
            runtime=runtime,
            accounts=accounts,
            signin=SignIn(accounts),
            limiter=limiter
            or RateLimiter.for_redis(runtime.settings.redis_url, limiter_rules(runtime.settings)),
            payments=payments if payments is not None else getattr(runtime, "payments", None),
            relying_party=RelyingParty.for_url(runtime.settings.effective_console_url),
        )

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    @property
    def kms(self) -> KMSProvider:
        return self.runtime.kms


def services(request: Request) -> ConsoleServices:
    state = request.app.state
    found: ConsoleServices | None = getattr(state, "console", None)
    if found is None:
        with _lock:
            found = getattr(state, "console", None)
            if found is None:
                found = ConsoleServices.build(state.runtime, limiter=app_limiter(request.app))
                state.console = found
    return found
