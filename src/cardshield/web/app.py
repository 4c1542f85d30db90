"""The FastAPI application factory. Everything it needs is passed in: no globals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from anyio import to_thread
from fastapi import FastAPI

from cardshield import __version__
from cardshield.runtime import Runtime
from cardshield.web import console, errors, metrics, openapi
from cardshield.web.background import Job, Scheduler
from cardshield.web.middleware import CardshieldMiddleware
from cardshield.web.routers import (
    amazon_connect,
    elements,
    events,
    forward,
    gateway_webhooks,
    health,
    payment_methods,
    payments,
    phone_media,
    phone_rtp,
    phone_twilio,
    sandbox_challenge,
    tokens,
    twilio_pay,
    webhook_endpoints,
)

DESCRIPTION = """\
The cardshield API. Server calls use a secret key (`Authorization: Bearer sk_...`); the
hosted card fields use a publishable key. Errors are
`{"error": {"type", "code", "message", "param"}}`; every response carries a `Request-Id`.
Card numbers and security codes never appear in any response.
"""

# Threads that run the synchronous endpoints and dependencies (anyio's default is 40). More
# than the database pool holds only queue for connections, and every extra runnable thread
# costs GIL hand-overs; the pool is sized to match (cardshield.storage.engine).
REQUEST_THREADS = 4


def create_app(
    runtime: Runtime,
    *,
    clock: Callable[[], datetime] | None = None,
    jobs: list[Job] | None = None,
) -> FastAPI:
    """The API over ``runtime``. ``jobs`` run in the background while the app is up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        scheduler = Scheduler(jobs or [], clock)
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()
            runtime.close()

    app = FastAPI(
        lifespan=lifespan,
        title="cardshield",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    openapi.install(app)
    app.state.runtime = runtime
    app.state.clock = clock
    errors.install(app)
    app.add_middleware(CardshieldMiddleware)
    for module in (
        health,
        tokens,
        payments,
        payment_methods,
        events,
        webhook_endpoints,
        forward,
        gateway_webhooks,
        elements,
        phone_twilio,
        twilio_pay,
        phone_media,
        phone_rtp,
        amazon_connect,
        console,
        metrics,
    ):
        app.include_router(module.router)
    if runtime.settings.connector == "sandbox":
        # The sandbox processor's 3-D Secure page, which a real processor would host.
        app.include_router(sandbox_challenge.router)
    return app
