"""``/openapi.json``: FastAPI's document, completed with what the route code does not say.

* **Security schemes.** Every operation names the key it needs (``secretKey`` or
  ``publishableKey``, both HTTP bearer), read from the access each route declares for
  :mod:`cardshield.security.permissions`; a secret key's scope is in the operation's
  description and in ``x-cardshield-scope``. The document and the authorization checks
  come from the same declaration, so they cannot disagree.
* **Examples.** Every request and answer body has one (:mod:`.openapi_examples`), with
  test-card metadata only: no example holds a card number or a security code.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cardshield.security.permissions import UndeclaredRoute, iter_routes, route_access
from cardshield.web.openapi_examples import EXAMPLES

SCHEMES: dict[str, dict[str, Any]] = {
    "secretKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_...",
        "description": "A merchant's secret key (`Authorization: Bearer sk_...`), server side "
        "only. Its scopes limit what it may do.",
    },
    "publishableKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "pk_...",
        "description": "A publishable key (`pk_...`): the hosted fields' key, for creating "
        "tokens from an allowed origin only.",
    },
}
_SCHEME_OF = {"secret_key": "secretKey", "publishable_key": "publishableKey"}


def _security(app: FastAPI, document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    for route in iter_routes(app):
        if getattr(route, "path", None) not in paths or not getattr(route, "methods", None):
            continue  # not documented (console pages, WebSockets)
        try:
            access = route_access(route)
        except UndeclaredRoute:
            continue  # the authorization tests fail on it; the document stays usable
        scheme = _SCHEME_OF.get(access.kind)
        if scheme is None:
            continue
        for method in route.methods or ():
            operation = paths[route.path].get(method.lower())
            if operation is None:
                continue
            operation["security"] = [{scheme: []}]
            if access.scope:
                operation["x-cardshield-scope"] = access.scope
                note = f"Needs a secret key with the scope `{access.scope}`."
                described = operation.get("description", "")
                operation["description"] = f"{described}\n\n{note}".strip()


def _examples(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for name, example in EXAMPLES.items():
        if name in schemas:
            schemas[name]["examples"] = [example]


def install(app: FastAPI) -> None:
    """Serve the completed document from ``app.openapi()`` (built once, then kept)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document.setdefault("components", {})["securitySchemes"] = SCHEMES
            _security(app, document)
            _examples(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
