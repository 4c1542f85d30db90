"""Prometheus metrics at ``/metrics``: requests, latency, security events, and a few gauges
read from the database at scrape time.

Labels never hold card data, tokens, ids or raw paths: a request is labelled by its route
template (``/v1/tokens/{token_id}``), method and status; a security event by its name.
``/metrics`` answers clients on loopback and private networks only (a Prometheus server
next to cardshield); behind a reverse proxy, run uvicorn with ``--proxy-headers`` so the
client address is the real one, or block the path at the proxy.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select
from starlette.responses import Response

from cardshield.errors import CardshieldError
from cardshield.security import events
from cardshield.security.monitor import CARD_ACTION_PREFIX
from cardshield.security.permissions import INTERNAL, declare
from cardshield.storage.schema import audit_log, operator_sessions, operators
from cardshield.web.deps import get_now, get_runtime

# One registry for the process: the counters live as long as the process, as Prometheus
# expects, however many apps a test builds.
REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "cardshield_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "cardshield_http_request_duration_seconds",
    "HTTP request duration by route template.",
    ["route"],
    registry=REGISTRY,
)
SECURITY_EVENTS = Counter(
    "cardshield_security_events",
    "Security events: failed sign-ins, lockouts, denials, rate limits, card-access volume.",
    ["event"],
    registry=REGISTRY,
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _count_event(name: str, fields: dict[str, Any]) -> None:
    SECURITY_EVENTS.labels(event=name).inc()


events.subscribe(_count_event)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one finished request (called by cardshield.web.middleware for every request)."""
    HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    HTTP_SECONDS.labels(route=route).observe(seconds)


class InternalOnly(CardshieldError):
    type = "permission_error"
    code = "internal_only"
    http_status = 403
    default_message = "Metrics are served to the internal network only."


# Loopback, RFC 1918, IPv6 unique-local and link-local. Named here rather than taken from
# ``is_private``, which also counts documentation and benchmarking ranges.
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def internal_address(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address((host or "").strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in INTERNAL_NETWORKS)


def _internal(request: Request) -> None:
    if not internal_address(request.client.host if request.client else None):
        raise InternalOnly


router = APIRouter(tags=["monitoring"], include_in_schema=False)


def _gauges(request: Request) -> bytes:
    """Database-backed gauges, computed now into a registry of their own."""
    engine = get_runtime(request).engine
    now = get_now(request)
    registry = CollectorRegistry()
    sessions = Gauge(
        "cardshield_console_sessions",
        "Open console sessions by stage.",
        ["stage"],
        registry=registry,
    )
    locked = Gauge("cardshield_operators_locked", "Operators locked out now.", registry=registry)
    unsealed = Gauge(
        "cardshield_audit_unsealed_entries", "Audit entries not yet sealed.", registry=registry
    )
    accesses = Gauge(
        "cardshield_card_data_accesses_5m",
        "Card-data accesses (audit card.* entries) in the last five minutes.",
        registry=registry,
    )
    with engine.connect() as conn:
        for stage, count in conn.execute(
            select(operator_sessions.c.stage, func.count()).group_by(operator_sessions.c.stage)
        ):
            sessions.labels(stage=stage).set(count)
        locked.set(
            conn.execute(
                select(func.count()).select_from(operators).where(operators.c.locked_until > now)
            ).scalar_one()
        )
        unsealed.set(
            conn.execute(
                select(func.count()).select_from(audit_log).where(audit_log.c.sealed_at.is_(None))
            ).scalar_one()
        )
        accesses.set(
            conn.execute(
                select(func.count())
                .select_from(audit_log)
                .where(
                    audit_log.c.action.startswith(CARD_ACTION_PREFIX),
                    audit_log.c.occurred_at > now - timedelta(minutes=5),
                )
            ).scalar_one()
        )
    return generate_latest(registry)


@router.get("/metrics", dependencies=[Depends(declare(_internal, INTERNAL))])
def metrics(request: Request) -> Response:
    body = generate_latest(REGISTRY) + _gauges(request)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
