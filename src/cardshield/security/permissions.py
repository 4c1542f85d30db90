"""Roles, permissions and route access declarations: the one place they are defined.

Roles (least privilege, PCI DSS 7.2)::

    admin      everything below, plus users and roles
    operator   view payments, capture, refund, void
    agent      phone capture only (the agent-assisted capture screen)
    auditor    read only: audit log (and verifying it), reports (dashboard)
    developer  API keys, webhook endpoints (and their delivery log)

Every HTTP route declares who may call it with exactly one :class:`Access`, carried by a
FastAPI dependency as its ``cardshield_access`` attribute:

* API routes: ``SecretKey(scope)`` and ``PublishableKey`` from :mod:`cardshield.web.deps`;
* console routes: ``Require(Permission.X)``, ``SignedIn``, ``MfaPending`` and ``Anonymous``
  from :mod:`cardshield.web.console.auth`;
* open routes (health, static files): ``Public``; ``/metrics``: ``Internal``.

:func:`route_access` reads the declaration back from a route, so tests can enumerate the
app's routes (:func:`iter_routes`) and check each against every kind of caller; a route
without a declaration, or with two different ones, is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal


class Permission(StrEnum):
    PAYMENTS_VIEW = "payments:view"
    PAYMENTS_CAPTURE = "payments:capture"
    PAYMENTS_REFUND = "payments:refund"
    PAYMENTS_VOID = "payments:void"
    PHONE_CAPTURE = "phone:capture"
    AUDIT_VIEW = "audit:view"
    REPORTS_VIEW = "reports:view"
    API_KEYS_MANAGE = "api_keys:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    USERS_MANAGE = "users:manage"


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    AGENT = "agent"
    AUDITOR = "auditor"
    DEVELOPER = "developer"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {P.PAYMENTS_VIEW, P.PAYMENTS_CAPTURE, P.PAYMENTS_REFUND, P.PAYMENTS_VOID}
    ),
    Role.AGENT: frozenset({P.PHONE_CAPTURE}),
    Role.AUDITOR: frozenset({P.AUDIT_VIEW, P.REPORTS_VIEW}),
    Role.DEVELOPER: frozenset({P.API_KEYS_MANAGE, P.WEBHOOKS_MANAGE}),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.ADMIN: "Everything, including users and roles",
    Role.OPERATOR: "View payments; capture, refund, void",
    Role.AGENT: "Phone capture only",
    Role.AUDITOR: "Read only: audit log and reports",
    Role.DEVELOPER: "API keys and webhook endpoints",
}


def parse_role(value: str) -> Role:
    """The role named ``value``; ValueError listing the roles otherwise."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value[:32]!r} (roles: {known})") from None


def permissions_of(role: Role | str) -> frozenset[Permission]:
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()  # a role this version does not know grants nothing


def has_permission(role: Role | str, permission: Permission) -> bool:
    return permission in permissions_of(role)


AccessKind = Literal[
    "public",  # anyone
    "internal",  # clients on loopback or private networks (metrics scrapers)
    "anonymous_form",  # anyone, but the form needs the pre-session CSRF cookie (sign-in)
    "secret_key",  # a merchant's secret API key holding ``scope``
    "publishable_key",  # a merchant's publishable API key (hosted fields)
    "mfa_pending",  # a console session that passed the password but not the second factor
    "signed_in",  # any fully signed-in operator
    "permission",  # a signed-in operator whose role grants ``scope``
]


@dataclass(frozen=True)
class Access:
    """What a route demands of its caller. ``scope`` is the API scope or the permission."""

    kind: AccessKind
    scope: str | None = None

    def describe(self) -> str:
        return self.kind if self.scope is None else f"{self.kind}({self.scope})"


PUBLIC = Access("public")
INTERNAL = Access("internal")

# Routes FastAPI itself adds: the API description and its viewer, open by design (they
# describe the API; they hold no data).
FRAMEWORK_PUBLIC_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})


def declare(dependency: Any, access: Access) -> Any:
    """Mark a dependency callable as carrying ``access``; returns it."""
    dependency.cardshield_access = access
    return dependency


def _walk(dependant: Any) -> Iterable[Access]:
    for sub in getattr(dependant, "dependencies", ()):
        access = getattr(sub.call, "cardshield_access", None)
        if isinstance(access, Access):
            yield access
        yield from _walk(sub)


class UndeclaredRoute(Exception):
    """A route has no access declaration, or more than one distinct one."""


def iter_routes(app: Any) -> Iterator[Any]:
    """Every route an app serves, with router-level dependencies applied.

    Newer FastAPI keeps included routers as nodes (``iter_route_contexts`` flattens them);
    older versions copy the routes into ``app.routes``.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def route_access(route: Any) -> Access:
    """The declared access of a Starlette/FastAPI route; UndeclaredRoute if none or several."""
    direct = getattr(route, "cardshield_access", None)
    if isinstance(direct, Access):
        return direct
    path = getattr(route, "path", "?")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        if path in FRAMEWORK_PUBLIC_PATHS:
            return PUBLIC
        raise UndeclaredRoute(f"route {path} declares no access")
    found = set(_walk(dependant))
    if len(found) != 1:
        what = "no access" if not found else f"several: {sorted(a.describe() for a in found)}"
        raise UndeclaredRoute(f"route {path} declares {what}")
    return found.pop()


def allows(access: Access, *, role: Role | str | None) -> bool:
    """Whether a fully signed-in operator with ``role`` passes a console declaration."""
    if access.kind in ("public", "anonymous_form"):
        return True
    if role is None:
        return False
    if access.kind == "signed_in":
        return True
    if access.kind == "permission" and access.scope is not None:
        return has_permission(role, Permission(access.scope))
    return False
