"""Each merchant's allow-list of forward destinations: exact DNS names, nothing else.

No wildcards, schemes, ports or addresses: a destination is a host name such as
``api.processor.example``. Adding and removing one are audited (``forward.destination.*``).
Functions take a connection and do not commit: run them inside ``engine.begin()``.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, select

from cardshield.gateways.forward.errors import DestinationInvalid
from cardshield.gateways.forward.ssrf import check_host
from cardshield.security.audit import append as audit
from cardshield.storage.schema import forward_destinations, merchants
from cardshield.vault.errors import MerchantNotFound

_FD = forward_destinations


def normalize_destination(host: str) -> str:
    """The stored form of a destination host (lower case, IDNA, no trailing dot)."""
    host = host.strip()
    if any(c in host for c in ":/@?#[]\\") or any(c.isspace() for c in host):
        raise DestinationInvalid("Give a bare host name, without scheme, port or path.")
    return check_host(host)


def add_destination(
    conn: Connection, *, merchant_id: str, host: str, now: datetime, actor: str = "api"
) -> str:
    """Allow ``host`` for the merchant (idempotent); returns the stored host."""
    name = normalize_destination(host)
    merchant = conn.execute(
        select(merchants.c.deleted_at).where(merchants.c.id == merchant_id)
    ).first()
    if merchant is None or merchant.deleted_at is not None:
        raise MerchantNotFound(param="merchant")
    if is_allowed(conn, merchant_id, name):
        return name
    conn.execute(
        _FD.insert().values(
            id="fd_" + secrets.token_hex(12), merchant_id=merchant_id, host=name, created_at=now
        )
    )
    audit(
        conn,
        now=now,
        actor=actor,
        action="forward.destination.add",
        merchant_id=merchant_id,
        target=name,
    )
    return name


def list_destinations(conn: Connection, *, merchant_id: str) -> list[str]:
    query = select(_FD.c.host).where(_FD.c.merchant_id == merchant_id).order_by(_FD.c.host)
    return list(conn.execute(query).scalars())


def remove_destination(
    conn: Connection, *, merchant_id: str, host: str, now: datetime, actor: str = "api"
) -> bool:
    """Remove ``host`` from the allow-list; False when it was not there."""
    name = normalize_destination(host)
    removed = conn.execute(
        delete(_FD).where(_FD.c.merchant_id == merchant_id, _FD.c.host == name)
    ).rowcount
    if removed:
        audit(
            conn,
            now=now,
            actor=actor,
            action="forward.destination.remove",
            merchant_id=merchant_id,
            target=name,
        )
    return bool(removed)


def is_allowed(conn: Connection, merchant_id: str, host: str) -> bool:
    query = select(_FD.c.id).where(_FD.c.merchant_id == merchant_id, _FD.c.host == host)
    return conn.execute(query).first() is not None
