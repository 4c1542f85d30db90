"""The console's route class: every console response gets the console's headers, and every
error a console route raises becomes a page (or a redirect), never the API's JSON.

* CSP: scripts, styles and images from cardshield itself only; no inline script or style;
  forms post only to cardshield; no framing. ``Cache-Control: no-store`` on every page (they
  show payment data); the other security headers come from the app's middleware.
* Access denials carry a ``Cardshield-Denied`` header (``session``, ``permission``, ``csrf``)
  so that tests and log pipelines can tell a refusal from an ordinary error page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cardshield.errors import CardshieldError
from cardshield.security.errors import (
    CsrfInvalid,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    SessionRequired,
)
from cardshield.web.console.render import render

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DENIED_HEADER = "cardshield-denied"
_HEADERS = {
    "content-security-policy": CONSOLE_CSP,
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class Redirect(Exception):
    """Raised by a console handler or dependency to answer 303 See Other."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def section_of(path: str) -> str:
    """``/console/api-keys/key_1/revoke`` -> ``/console/api-keys`` (where to come back to)."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[:2]) if len(parts) >= 2 else "/console/"


def _denied(request: Request, exc: CardshieldError, kind: str) -> Response:
    response = render(
        request,
        "error.html",
        {"title": "Not allowed", "message": exc.message},
        status=exc.http_status,
    )
    response.headers[DENIED_HEADER] = kind
    return response


def _error_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Redirect):
        return RedirectResponse(exc.location, status_code=303)
    if isinstance(exc, SessionRequired):
        target = request.url.path if request.method == "GET" else section_of(request.url.path)
        response: Response = RedirectResponse(
            "/console/login?next=" + quote(target, safe="/"), status_code=303
        )
        response.headers[DENIED_HEADER] = "session"
        return response
    if isinstance(exc, ReauthRequired):
        target = request.url.path if request.method == "GET" else section_of(request.url.path)
        return RedirectResponse("/console/reauth?next=" + quote(target, safe="/"), 303)
    if isinstance(exc, PermissionDenied):
        return _denied(request, exc, "permission")
    if isinstance(exc, CsrfInvalid):
        return _denied(request, exc, "csrf")
    if isinstance(exc, RateLimited):
        response = render(
            request, "error.html", {"title": "Slow down", "message": exc.message}, status=429
        )
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestValidationError):
        return render(
            request,
            "error.html",
            {"title": "Invalid form", "message": "A field is missing or has a wrong value."},
            status=400,
        )
    if isinstance(exc, CardshieldError) and exc.http_status < 500:
        return render(
            request,
            "error.html",
            {"title": "Cannot do that", "message": exc.message},
            status=exc.http_status,
        )
    raise exc


class ConsoleRoute(APIRoute):
    """APIRoute whose handler renders console errors and adds the console headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except (Redirect, CardshieldError, RequestValidationError) as exc:
                response = _error_response(request, exc)
            for name, value in _HEADERS.items():
                if name not in response.headers:
                    response.headers[name] = value
            return response

        return console_handler


def console_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for console pages (``/console`` prefix, console route class)."""
    return APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False, **kwargs)
