"""The console's own CSS and JavaScript, served by cardshield (no CDN, CSP 'self')."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from starlette.responses import Response

from cardshield.errors import InvalidRequestError
from cardshield.web.console.routing import console_router
from cardshield.web.deps import Public

router = console_router(tags=["console"], dependencies=[Public])

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class StaticNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "Not found."


@lru_cache(maxsize=16)
def _asset(name: str) -> bytes | None:
    """Only files that ship in the package, by exact name: no path is ever joined."""
    folder = resources.files("cardshield.web.console").joinpath("static")
    for entry in folder.iterdir():
        if entry.name == name and entry.is_file():
            return entry.read_bytes()
    return None


@router.get("/static/{name}")
def static(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    body = _asset(name) if suffix in _TYPES else None
    if body is None:
        raise StaticNotFound
    return Response(
        body,
        media_type=_TYPES[suffix],
        headers={"cache-control": "public, max-age=3600"},
    )
