"""Request dependencies: the runtime, the clock and API-key authentication.

Every route declares what it needs: ``SecretKey("payments:write")`` for server calls,
``PublishableKey`` for the hosted fields, ``Public`` for open routes (the declarations are
read back by :func:`cardshield.security.permissions.route_access`). Using the wrong kind of
key is its own error, so a merchant who pastes a secret key into a browser is told at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from cardshield.errors import InvalidRequestError
from cardshield.runtime import Runtime
from cardshield.security.apikeys import ApiKeyInfo, authenticate, hash_key, require_scope
from cardshield.security.errors import InvalidApiKey
from cardshield.security.permissions import PUBLIC, Access, declare

PUBLISHABLE = Access("publishable_key")


class SecretKeyRequired(InvalidRequestError):
    code = "secret_key_required"
    http_status = 403
    default_message = "This endpoint needs a secret key (sk_...); publishable keys cannot use it."


class PublishableKeyRequired(InvalidRequestError):
    code = "publishable_key_required"
    http_status = 403
    default_message = (
        "Card data is accepted only from cardshield's hosted fields with a publishable key "
        "(pk_...). Never send card data or secret keys from your own pages or servers."
    )


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = getattr(request.app.state, "clock", None) or (
        lambda: datetime.now(UTC)
    )
    return clock()


def _presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidApiKey
    return value.strip()


def _authenticate(request: Request) -> ApiKeyInfo:
    """The request's key, from this process's cache or the database (blocking I/O)."""
    runtime = get_runtime(request)
    presented = _presented_key(request)
    digest = hash_key(presented)
    info = runtime.api_keys.get(digest)
    if info is None:
        # Autocommit: a lookup (and at most one last-used update a minute) needs no BEGIN
        # and COMMIT, two round trips on every look-up.
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            info = authenticate(conn, presented, now=get_now(request))
        runtime.api_keys.put(digest, info)
    request.state.api_key = info
    return info


def cached_key(request: Request) -> ApiKeyInfo | None:
    """The request's key if this process remembers it (no I/O); None otherwise."""
    cache = get_runtime(request).api_keys
    if not cache.enabled:
        return None
    info = cache.get(hash_key(_presented_key(request)))
    if info is not None:
        request.state.api_key = info
    return info


async def _authenticate_async(request: Request) -> ApiKeyInfo:
    """As :func:`_authenticate`; a key in the cache is answered on the event loop, and only
    a look-up hops to the thread pool (a hop and a GIL hand-over cost more than the rest of
    the check)."""
    info = cached_key(request)
    return info if info is not None else await run_in_threadpool(_authenticate, request)


def SecretKey(scope: str) -> Any:
    """Dependency: a secret key of the caller's merchant holding ``scope``.

    Use as ``key: Annotated[ApiKeyInfo, SecretKey("payments:write")]``.
    """

    async def dependency(request: Request) -> ApiKeyInfo:
        info = await _authenticate_async(request)
        if info.kind != "secret":
            raise SecretKeyRequired
        require_scope(info, scope)
        return info

    dependency.__name__ = f"secret_key_{scope.replace(':', '_')}"
    return Depends(declare(dependency, Access("secret_key", scope)))


def as_publishable(info: ApiKeyInfo) -> ApiKeyInfo:
    """``info`` if it is a publishable key that may tokenize; the specific 403 otherwise."""
    if info.kind != "publishable":
        raise PublishableKeyRequired
    require_scope(info, "tokens:create")
    return info


async def publishable_key(request: Request) -> ApiKeyInfo:
    """The publishable key of the request (``PublishableKey`` is the dependency)."""
    return as_publishable(await _authenticate_async(request))


def publishable_key_sync(request: Request) -> ApiKeyInfo:
    """The same, blocking: for a dependency that does more in the same thread-pool hop."""
    return as_publishable(_authenticate(request))


declare(publishable_key, PUBLISHABLE)


async def _public() -> None:
    """Declares a route open to anyone (see cardshield.security.permissions)."""


# ``dependencies=[Public]`` on a route or router that anyone may call.
Public = Depends(declare(_public, PUBLIC))


PublishableKey = Annotated[ApiKeyInfo, Depends(publishable_key)]


# The dependency forms are coroutines: FastAPI runs a plain function dependency in the thread
# pool, a hop (and a GIL hand-over) per request for what is a dictionary lookup.
async def _runtime_dependency(request: Request) -> Runtime:
    return get_runtime(request)


async def _now_dependency(request: Request) -> datetime:
    return get_now(request)


RuntimeDep = Annotated[Runtime, Depends(_runtime_dependency)]
NowDep = Annotated[datetime, Depends(_now_dependency)]
