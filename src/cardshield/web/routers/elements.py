"""Hosted card fields: the frame page and its assets under ``/elements/v1``.

The merchant's page loads ``cardshield.js``, which embeds ``/elements/v1/frame`` from this
origin in an iframe. The card number, expiry and CVC are typed into that frame and posted
from it straight to ``POST /v1/tokens``; the merchant's page learns only state and the token.
That is what keeps the merchant's page out of scope (SAQ A), so the frame is locked down:

* it renders only for an active publishable key and a ``parent`` origin on that key's
  allow-list; CSP ``frame-ancestors`` names the key's origins, so no other site can frame it;
* a strict CSP (self only, no inline script or style): configuration travels in data
  attributes and the parent's styling is reduced to an allow-list of CSS properties, applied
  as custom properties by the frame's own script;
* no cookies, ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store``;
* the assets are served with their SRI hashes, published at ``/elements/v1/sri.json``.
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from functools import cache
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cardshield.errors import InvalidRequestError
from cardshield.runtime import Runtime
from cardshield.security.apikeys import ApiKeyInfo, authenticate, normalize_origin
from cardshield.security.errors import InvalidApiKey
from cardshield.web import sri
from cardshield.web.deps import NowDep, Public, RuntimeDep
from cardshield.web.middleware import OMIT_DEFAULTS_HEADER

# Open to anyone: the assets are public, and the frame checks its key and parent itself
# (a query parameter, since a browser loading an iframe cannot send an Authorization header).
router = APIRouter(
    prefix="/elements/v1", tags=["elements"], include_in_schema=False, dependencies=[Public]
)

# Versioned path: a release that changes a file changes its SRI hash, which merchants re-pin.
ASSET_CACHE = "public, max-age=31536000"
MAX_STYLE_CHARS = 4000

# The parent's style object, Stripe-like: {"base": {...}, "focus": {...}, "invalid": {...},
# "label": {...}}, camelCase CSS names. Only these properties, and only values that cannot
# load anything (no url(), no escapes, no at-rules), ever reach the frame.
STYLE_PROPERTIES: dict[str, frozenset[str]] = {
    "base": frozenset(
        {
            "color",
            "backgroundColor",
            "fontFamily",
            "fontSize",
            "fontWeight",
            "fontStyle",
            "letterSpacing",
            "lineHeight",
            "padding",
            "borderColor",
            "borderWidth",
            "borderRadius",
            "caretColor",
            "::placeholder",
        }
    ),
    "focus": frozenset({"color", "backgroundColor", "borderColor"}),
    "invalid": frozenset({"color", "backgroundColor", "borderColor"}),
    "label": frozenset({"color", "fontFamily", "fontSize", "fontWeight"}),
}
_VALUE = re.compile(r"^[A-Za-z0-9#%.,+\-\s'\"()/]{1,100}$")
_FUNCTION = re.compile(r"([A-Za-z-]*)\s*\(")
_ALLOWED_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla"})
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _kebab(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), name)


def _safe_value(value: object) -> str | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not _VALUE.match(text) or "/*" in text:
        return None
    if any(f.lower() not in _ALLOWED_FUNCTIONS for f in _FUNCTION.findall(text)):
        return None  # url(), image-set(), var(), expression() ...
    if any(q in _QUOTED.sub("", text) for q in "'\""):
        return None  # an unbalanced quote
    return text


def sanitize_style(raw: str) -> dict[str, str]:
    """The parent's style JSON as CSS custom properties (``--cs-base-font-size``: value).

    Anything not on the allow-list, or not valid JSON, is dropped rather than refused: a
    styling mistake must not take the payment form down.
    """
    if not raw or len(raw) > MAX_STYLE_CHARS:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    out: dict[str, str] = {}
    for variant, props in parsed.items():
        allowed = STYLE_PROPERTIES.get(variant)
        if allowed is None or not isinstance(props, dict):
            continue
        for prop, value in props.items():
            if prop not in allowed:
                continue
            if prop == "::placeholder":
                color = _safe_value(value.get("color")) if isinstance(value, dict) else None
                if color is not None:
                    out[f"--cs-{variant}-placeholder-color"] = color
                continue
            safe = _safe_value(value)
            if safe is not None:
                out[f"--cs-{variant}-{_kebab(prop)}"] = safe
    return out


def frame_csp(allowed_origins: tuple[str, ...]) -> str:
    """The frame page's policy: self only, no inline code, framed by the key's origins."""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {' '.join(allowed_origins)}"
    )


_REFUSED = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Card fields unavailable</title></head>
<body><p>The card fields cannot be shown: $reason</p></body></html>
"""
)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _refused(exc: _Refused) -> Response:
    # Default headers apply: frame-ancestors 'none' and X-Frame-Options DENY, so the refusal
    # is not even displayed inside a merchant page.
    body = _REFUSED.substitute(reason=html.escape(exc.reason))
    return Response(body, status_code=exc.status, media_type="text/html; charset=utf-8")


def _checked_key(runtime: Runtime, key: str, now: datetime) -> ApiKeyInfo:
    if not key:
        raise _Refused(400, "the publishable key is missing.")
    try:
        with runtime.engine.begin() as conn:
            info = authenticate(conn, key, now=now)
    except InvalidApiKey:
        raise _Refused(403, "the publishable key is unknown or revoked.") from None
    if info.kind != "publishable" or "tokens:create" not in info.scopes:
        raise _Refused(403, "the hosted fields need a publishable key (pk_...).")
    return info


def _checked_parent(info: ApiKeyInfo, parent: str) -> str:
    try:
        origin = normalize_origin(parent) if parent else ""
    except InvalidRequestError:
        origin = ""
    if not origin or origin != parent:
        raise _Refused(400, "the parent origin is missing or malformed.")
    if origin not in info.allowed_origins:
        raise _Refused(403, "this page's origin is not allowed for the publishable key.")
    return origin


# Rendered only when the merchant asks for it: a hidden field would still be autofilled.
_POSTAL_FIELD = """\
    <div class="cs-field cs-field-postal" id="cs-postal-field">
      <label class="cs-label" for="cs-postal">Postal code</label>
      <div class="cs-control">
        <input class="cs-input" id="cs-postal" name="postal" type="text" autocomplete="postal-code"
               autocorrect="off" spellcheck="false" maxlength="10" placeholder="12345"
               aria-invalid="false" aria-describedby="cs-postal-error" required disabled>
      </div>
      <p class="cs-error" id="cs-postal-error" role="alert"></p>
    </div>
"""


@cache
def _frame_template() -> Template:
    return Template(sri.read_static("frame.html").decode("utf-8"))


def render_frame(key: str, parent: str, style: str, postal: bool) -> str:
    """The frame page; every value placed in it is HTML-escaped."""
    return _frame_template().substitute(
        key=html.escape(key),
        parent=html.escape(parent),
        style=html.escape(json.dumps(sanitize_style(style), separators=(",", ":"))),
        postal="1" if postal else "0",
        postal_field=_POSTAL_FIELD if postal else "",
        rules_integrity=sri.asset("cardrules.js").integrity,
        js_integrity=sri.asset("frame.js").integrity,
        css_integrity=sri.asset("frame.css").integrity,
    )


@router.get("/frame")
def frame(
    runtime: RuntimeDep,
    now: NowDep,
    key: str = "",
    parent: str = "",
    style: str = "",
    postal: str = "0",
) -> Response:
    """The card fields page, embedded by cardshield.js in the merchant's checkout."""
    try:
        info = _checked_key(runtime, key, now)
        origin = _checked_parent(info, parent)
    except _Refused as exc:
        return _refused(exc)
    page = render_frame(key, origin, style, postal == "1")
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={
            "content-security-policy": frame_csp(info.allowed_origins),
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
            OMIT_DEFAULTS_HEADER: "x-frame-options",
        },
    )


def _serve_asset(request: Request, name: str, *, public: bool) -> Response:
    item = sri.asset(name)
    headers = {"cache-control": ASSET_CACHE, "etag": item.etag}
    if public:
        # Loaded by merchants' pages on other sites; CORS lets them pin it with SRI
        # (crossorigin="anonymous"), CORP lets the browser hand it to them at all.
        headers["access-control-allow-origin"] = "*"
        headers["cross-origin-resource-policy"] = "cross-origin"
    if request.headers.get("if-none-match") == item.etag:
        return Response(status_code=304, headers=headers)
    return Response(item.body, media_type=item.media_type, headers=headers)


@router.get("/cardshield.js")
def cardshield_js(request: Request) -> Response:
    return _serve_asset(request, "cardshield.js", public=True)


@router.get("/cardrules.js")
def cardrules_js(request: Request) -> Response:
    return _serve_asset(request, "cardrules.js", public=False)


@router.get("/frame.js")
def frame_js(request: Request) -> Response:
    return _serve_asset(request, "frame.js", public=False)


@router.get("/frame.css")
def frame_css(request: Request) -> Response:
    return _serve_asset(request, "frame.css", public=False)


@router.get("/sri.json")
def sri_json() -> JSONResponse:
    """The SRI hash of every asset, for merchants who pin cardshield.js."""
    return JSONResponse(
        sri.manifest(),
        headers={
            "cache-control": "public, max-age=300",
            "access-control-allow-origin": "*",
            "cross-origin-resource-policy": "cross-origin",
        },
    )
