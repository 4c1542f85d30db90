"""The operator console: server-rendered pages under ``/console`` (Jinja2 templates, CSS and
JavaScript served by cardshield itself).

``router`` holds every console route; each declares its access with the dependencies of
:mod:`cardshield.web.console.auth`. See :mod:`cardshield.web.console.routing` for the
headers and error pages, :mod:`cardshield.web.console.services` for what the pages use.
"""

from __future__ import annotations

from fastapi import APIRouter

from cardshield.web.console.pages import (
    account,
    apikeys,
    audit,
    dashboard,
    payments,
    phone,
    recordings,
    saq,
    security_keys,
    signin,
    static,
    users,
    webhooks,
)

router = APIRouter()
for _module in (
    signin,
    account,
    security_keys,
    dashboard,
    payments,
    apikeys,
    webhooks,
    audit,
    users,
    phone,
    saq,
    recordings,
    static,
):
    router.include_router(_module.router)
