"""Merchant webhook endpoints: where events are posted, which ones, and the signing secret.

* The secret (``whsec_`` + 256 random bits) is shown once, in :class:`CreatedEndpoint` or
  the return of :func:`roll_secret`, as a :class:`~cardshield.crypto.Secret`; lists never
  carry it. Rolling keeps the previous secret signing too (a second ``v1``) for a while, so
  the merchant can switch without dropping a delivery.
* URLs must be ``https://`` with a host that is not an internal address. For tests and the
  demo, ``allow_http_loopback`` admits ``http://`` to localhost/127.0.0.1/::1. The host is
  judged as a URL parser reads it (``normalize_host``: NFKC, Unicode full stops as ``.``,
  IDNA), by the same :func:`check_url` when the endpoint is added and before each send.
* Creating, disabling and rolling each append an audit entry. Disabling also gives up the
  endpoint's pending deliveries (status ``failed``) so nothing is sent to it afterwards.

Functions take a connection and do not commit: run them inside ``engine.begin()``.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select, update

from cardshield.crypto import Secret
from cardshield.errors import CardDataInText
from cardshield.gateways.forward.ssrf import is_ip_literal, is_loopback, is_public, normalize_host
from cardshield.payments.webhooks.errors import (
    EndpointDisabled,
    EndpointNotFound,
    EventTypesInvalid,
    WebhookUrlInsecure,
    WebhookUrlInvalid,
)
from cardshield.payments.webhooks.signing import new_secret
from cardshield.redaction.text import contains_card_data
from cardshield.security.audit import append as audit
from cardshield.storage.schema import merchants, webhook_deliveries, webhook_endpoints
from cardshield.vault.errors import MerchantNotFound

DEFAULT_KEEP_PREVIOUS = timedelta(hours=24)
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
_MAX_EVENT_TYPES = 100


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """An endpoint as anyone may see it (no secret)."""

    id: str
    merchant_id: str
    url: str
    enabled_events: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: Secret[str]  # shown to the merchant once


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return is_loopback(ipaddress.ip_address(host))
    except ValueError:
        return False


def check_url(url: str, *, allow_http_loopback: bool = False) -> str:
    """Return ``url`` if deliveries may go there, else raise a ``url_*`` error."""
    if not url or len(url) > 2000 or "\\" in url or any(c.isspace() or ord(c) < 32 for c in url):
        raise WebhookUrlInvalid
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise WebhookUrlInvalid("The webhook URL has an invalid port.") from exc
    try:
        host = normalize_host(parts.hostname or "")
    except UnicodeError as exc:
        raise WebhookUrlInvalid("The webhook host is not a valid DNS name.") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookUrlInvalid
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise WebhookUrlInvalid("The webhook URL must not carry credentials or a fragment.")
    loopback_ok = allow_http_loopback and _loopback_host(host)
    if parts.scheme != "https" and not loopback_ok:
        raise WebhookUrlInsecure("Webhook URLs must use https://.")
    if is_ip_literal(host) and not loopback_ok:
        try:
            public = is_public(ipaddress.ip_address(host.strip("[]")))
        except ValueError:  # 2130706433, 0x7f.1 and other odd spellings of an address
            public = False
        if not public:
            raise WebhookUrlInsecure("The webhook host is an internal address.")
    return url


def check_event_types(types: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(t.strip() for t in types if t.strip()))
    if not wanted or len(wanted) > _MAX_EVENT_TYPES:
        raise EventTypesInvalid
    for t in wanted:
        if t != "*" and not _EVENT_TYPE.match(t):
            raise EventTypesInvalid(f"Invalid event type {t[:64]!r}.")
    return ["*"] if "*" in wanted else wanted


def _endpoint(m: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=m.id,
        merchant_id=m.merchant_id,
        url=m.url,
        enabled_events=tuple(m.enabled_events or ()),
        created_at=m.created_at,
        disabled_at=m.disabled_at,
        previous_secret_expires_at=m.previous_secret_expires_at,
    )


_PUBLIC_COLUMNS = [c for c in webhook_endpoints.c if c.name not in ("secret", "previous_secret")]


def create_endpoint(
    conn: Connection,
    *,
    merchant_id: str,
    url: str,
    enabled_events: Iterable[str],
    now: datetime,
    allow_http_loopback: bool = False,
    actor: str = "api",
) -> CreatedEndpoint:
    if contains_card_data(url):
        raise CardDataInText(param="url")
    url = check_url(url, allow_http_loopback=allow_http_loopback)
    events = check_event_types(enabled_events)
    merchant = conn.execute(
        select(merchants.c.deleted_at).where(merchants.c.id == merchant_id)
    ).first()
    if merchant is None or merchant.deleted_at is not None:
        raise MerchantNotFound(param="merchant")
    endpoint_id = "we_" + secrets.token_hex(12)
    secret = new_secret()
    values = {
        "id": endpoint_id,
        "merchant_id": merchant_id,
        "url": url,
        "secret": secret,
        "enabled_events": events,
        "created_at": now,
        "disabled_at": None,
        "previous_secret": None,
        "previous_secret_expires_at": None,
    }
    conn.execute(webhook_endpoints.insert().values(**values))
    audit(
        conn,
        now=now,
        actor=actor,
        action="webhook.endpoint.create",
        merchant_id=merchant_id,
        target=endpoint_id,
        details={"url": url, "enabled_events": events},
    )
    return CreatedEndpoint(
        endpoint=WebhookEndpoint(
            id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            enabled_events=tuple(events),
            created_at=now,
            disabled_at=None,
            previous_secret_expires_at=None,
        ),
        secret=Secret(secret),
    )


def list_endpoints(conn: Connection, *, merchant_id: str | None = None) -> list[WebhookEndpoint]:
    query = select(*_PUBLIC_COLUMNS).order_by(webhook_endpoints.c.created_at)
    if merchant_id is not None:
        query = query.where(webhook_endpoints.c.merchant_id == merchant_id)
    return [_endpoint(r) for r in conn.execute(query)]


def get_endpoint(
    conn: Connection, endpoint_id: str, *, merchant_id: str | None = None
) -> WebhookEndpoint:
    query = select(*_PUBLIC_COLUMNS).where(webhook_endpoints.c.id == endpoint_id)
    if merchant_id is not None:
        query = query.where(webhook_endpoints.c.merchant_id == merchant_id)
    row = conn.execute(query).first()
    if row is None:
        raise EndpointNotFound(param="endpoint")
    return _endpoint(row)


def disable_endpoint(
    conn: Connection,
    endpoint_id: str,
    *,
    now: datetime,
    merchant_id: str | None = None,
    actor: str = "api",
) -> int:
    """Disable an endpoint and give up its pending deliveries; returns how many."""
    endpoint = get_endpoint(conn, endpoint_id, merchant_id=merchant_id)
    if endpoint.disabled_at is not None:
        return 0
    conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(disabled_at=now)
    )
    cancelled = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.status == "pending",
        )
        .values(status="failed", last_error="endpoint disabled", lease_owner=None)
    ).rowcount
    audit(
        conn,
        now=now,
        actor=actor,
        action="webhook.endpoint.disable",
        merchant_id=endpoint.merchant_id,
        target=endpoint_id,
        details={"pending_cancelled": cancelled},
    )
    return int(cancelled)


def roll_secret(
    conn: Connection,
    endpoint_id: str,
    *,
    now: datetime,
    keep_previous_for: timedelta = DEFAULT_KEEP_PREVIOUS,
    merchant_id: str | None = None,
    actor: str = "api",
) -> Secret[str]:
    """Replace the secret; the old one keeps signing (as a second ``v1``) until then."""
    endpoint = get_endpoint(conn, endpoint_id, merchant_id=merchant_id)
    if endpoint.disabled_at is not None:
        raise EndpointDisabled(param="endpoint")
    current = conn.execute(
        select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == endpoint_id)
    ).scalar_one()
    secret = new_secret()
    keep = keep_previous_for > timedelta(0)
    conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            secret=secret,
            previous_secret=current if keep else None,
            previous_secret_expires_at=now + keep_previous_for if keep else None,
        )
    )
    audit(
        conn,
        now=now,
        actor=actor,
        action="webhook.endpoint.roll_secret",
        merchant_id=endpoint.merchant_id,
        target=endpoint_id,
        details={"keep_previous_s": int(keep_previous_for.total_seconds())},
    )
    return Secret(secret)


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets a delivery is signed with at ``now``: the current one, then the previous
    one while it has not expired."""
    out = [secret]
    if previous and previous_expires_at is not None and previous_expires_at > now:
        out.append(previous)
    return out
