"""Which merchants an operator may see: every merchant, or the one they are limited to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from cardshield.errors import InvalidRequestError
from cardshield.storage.schema import merchants
from cardshield.web.console.auth import Principal


class MerchantNotVisible(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such merchant."


def visible_merchants(conn: Connection, principal: Principal) -> list[Any]:
    query = select(merchants.c.id, merchants.c.name).where(merchants.c.deleted_at.is_(None))
    if principal.merchant_scope is not None:
        query = query.where(merchants.c.id == principal.merchant_scope)
    return list(conn.execute(query.order_by(merchants.c.name, merchants.c.id)))


def pick_merchant(conn: Connection, principal: Principal, wanted: str | None) -> str | None:
    """``wanted`` if visible, else the first visible merchant (None when there is none)."""
    visible = [m.id for m in visible_merchants(conn, principal)]
    if wanted:
        if wanted not in visible:
            raise MerchantNotVisible(param="merchant")
        return wanted
    return visible[0] if visible else None
