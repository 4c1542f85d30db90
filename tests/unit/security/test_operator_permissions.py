"""Roles and permissions in one table; route declarations read back from routes."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI

from cardshield.security.permissions import (
    PUBLIC,
    ROLE_PERMISSIONS,
    Access,
    Permission,
    Role,
    UndeclaredRoute,
    allows,
    declare,
    has_permission,
    iter_routes,
    parse_role,
    permissions_of,
    route_access,
)


def test_roles_are_least_privilege() -> None:
    P = Permission
    assert permissions_of(Role.ADMIN) == frozenset(Permission)
    assert permissions_of("operator") == {
        P.PAYMENTS_VIEW,
        P.PAYMENTS_CAPTURE,
        P.PAYMENTS_REFUND,
        P.PAYMENTS_VOID,
    }
    assert permissions_of("agent") == {P.PHONE_CAPTURE}
    assert permissions_of("auditor") == {P.AUDIT_VIEW, P.REPORTS_VIEW}
    assert permissions_of("developer") == {P.API_KEYS_MANAGE, P.WEBHOOKS_MANAGE}
    assert permissions_of("superuser") == frozenset()  # unknown roles grant nothing
    # Only admins manage users; nobody but admins and operators moves money.
    money = {P.PAYMENTS_CAPTURE, P.PAYMENTS_REFUND, P.PAYMENTS_VOID}
    for role, perms in ROLE_PERMISSIONS.items():
        assert (P.USERS_MANAGE in perms) == (role == Role.ADMIN)
        assert bool(money & perms) == (role in (Role.ADMIN, Role.OPERATOR))
    assert has_permission("auditor", P.AUDIT_VIEW) and not has_permission(
        "auditor", P.PAYMENTS_VIEW
    )
    assert parse_role(" Developer ") == Role.DEVELOPER
    with pytest.raises(ValueError, match="unknown role"):
        parse_role("root")


def test_allows() -> None:
    view = Access("permission", Permission.PAYMENTS_VIEW.value)
    assert allows(view, role="operator") and not allows(view, role="agent")
    assert not allows(view, role=None)
    assert allows(Access("signed_in"), role="agent") and not allows(Access("signed_in"), role=None)
    assert allows(PUBLIC, role=None)
    assert not allows(Access("secret_key", "tokens:read"), role="admin")


def test_route_access_reads_declarations_and_refuses_gaps() -> None:
    router = APIRouter()
    dep_a = declare(lambda: None, Access("signed_in"))
    dep_b = declare(lambda: None, Access("permission", "audit:view"))

    def plain() -> None:
        return None

    @router.get("/declared", dependencies=[Depends(dep_a)])
    def declared() -> None: ...

    @router.get("/nested", dependencies=[Depends(lambda x=Depends(dep_b): x)])  # noqa: B008
    def nested() -> None: ...

    @router.get("/undeclared", dependencies=[Depends(plain)])
    def undeclared() -> None: ...

    @router.get("/twice", dependencies=[Depends(dep_a), Depends(dep_b)])
    def twice() -> None: ...

    app = FastAPI()
    app.include_router(router)
    by_path = {r.path: r for r in iter_routes(app)}
    assert route_access(by_path["/declared"]) == Access("signed_in")
    assert route_access(by_path["/nested"]) == Access("permission", "audit:view")
    assert route_access(by_path["/openapi.json"]) == PUBLIC
    with pytest.raises(UndeclaredRoute, match="no access"):
        route_access(by_path["/undeclared"])
    with pytest.raises(UndeclaredRoute, match="several"):
        route_access(by_path["/twice"])
