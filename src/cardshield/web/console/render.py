"""Rendering console pages: one Jinja2 environment, autoescaped, templates in the package.

Every page gets ``principal`` (the signed-in operator's session, when there is one), its
``csrf`` token for forms, and ``can(permission)`` for showing only what the role allows.
Nothing here formats card data: templates receive masked fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cardshield.errors import CardshieldError
from cardshield.payments.money import format_amount
from cardshield.security.permissions import ROLE_DESCRIPTIONS, Permission, Role

_env = Environment(
    loader=PackageLoader("cardshield.web.console", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return ""
    try:
        return format_amount(amount, currency.upper())
    except CardshieldError:
        return f"{amount} {currency}"


_env.filters["when"] = _when
_env.filters["money"] = _money
_env.globals["P"] = Permission
_env.globals["roles"] = [(r.value, ROLE_DESCRIPTIONS[r]) for r in Role]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)

    def can(permission: Permission) -> bool:
        return principal is not None and principal.can(permission)

    values: dict[str, Any] = {
        "principal": principal,
        "csrf": principal.csrf if principal is not None else "",
        "can": can,
        "path": request.url.path,
        "message": None,
        "error": None,
    }
    values.update(context or {})
    html = _env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)


def inline_svg(svg: str) -> Markup:
    """Mark SVG that cardshield drew itself (QR codes, charts) as safe to embed."""
    # B704 does not apply: the SVG is generated here from numbers and fixed text only, never input.
    safe = Markup(svg)  # noqa: S704  # nosec B704
    return safe
