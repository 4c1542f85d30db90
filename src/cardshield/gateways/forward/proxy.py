"""The forward proxy: send a merchant's HTTPS request with card data filled in by the vault.

:func:`forward` checks everything it can before card data is touched, in this order, and
refuses with a specific error: the URL (``destination_invalid``), HTTPS
(``destination_insecure``), a DNS name rather than an address (``destination_ip_literal``),
the merchant's allow-list (``destination_not_allowed``), the template
(``template_invalid``), and the resolved addresses (``destination_private_address``). Only
then does it open the vault (:meth:`Vault.use_for_forwarding`, which consumes a single-use
token and the CVV), render the request and send it - to the checked address, with the
original name for TLS and ``Host``, without following redirects, within ``timeout``.

What comes back is masked before the caller sees it: every PAN (and every named security
code) in the body and headers goes through :func:`cardshield.redaction.text.redact`, and
the exact card number and security code sent are masked wherever they still appear. Every
forward, refused or sent, appends one ``card.forward`` audit entry with the destination
and the masked card.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from cardshield.errors import CardshieldError
from cardshield.gateways.forward import template as tpl
from cardshield.gateways.forward.destinations import is_allowed
from cardshield.gateways.forward.errors import (
    CvcUnavailable,
    DestinationInsecure,
    DestinationInvalid,
    DestinationNotAllowed,
    TemplateInvalid,
)
from cardshield.gateways.forward.ssrf import Resolver, SystemResolver, check_addresses, check_host
from cardshield.gateways.forward.transport import default_ssl_context, exchange
from cardshield.redaction.text import redact
from cardshield.security.audit import append as audit
from cardshield.vault.service import CardData, Vault

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
# Set by the proxy from the real request; a caller's value would be wrong or dangerous.
_MANAGED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te"}
)
_HEADER_NAME = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True, slots=True)
class ForwardResponse:
    status: int
    headers: list[tuple[str, str]]
    body: str


@dataclass(frozen=True, slots=True)
class ForwardPolicy:
    """Deployment knobs. ``allow_loopback`` is for local tests and demos only."""

    allow_loopback: bool = False
    ssl_context: ssl.SSLContext | None = None  # None: the system trust store, TLS >= 1.2
    max_response_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Checked:
    host: str
    port: int
    target: str
    method: str
    headers: list[tuple[str, tpl.Template]]
    body: tpl.Template

    @property
    def fields(self) -> frozenset[str]:
        used = set(self.body.fields)
        for _, value in self.headers:
            used |= value.fields
        return frozenset(used)


def _check_url(url: str) -> tuple[str, int, str]:
    if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url) or len(url) > 4096:
        raise DestinationInvalid(param="url")
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:  # a bad port or bracketed host
        raise DestinationInvalid(param="url") from exc
    if parts.scheme.lower() != "https":
        if parts.scheme and parts.netloc:
            raise DestinationInsecure(param="url")
        raise DestinationInvalid(param="url")
    if parts.username is not None or parts.password is not None:
        raise DestinationInvalid("The destination URL must not carry credentials.", param="url")
    host = check_host(parts.hostname or "")
    tpl.literal(url, param="url")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return host, port, target


def _check(request: ForwardRequest) -> _Checked:
    host, port, target = _check_url(request.url)
    method = request.method.upper()
    if method not in METHODS:
        raise TemplateInvalid("Unsupported HTTP method.", param="method")
    headers: list[tuple[str, tpl.Template]] = []
    for name, value in request.headers.items():
        lowered = tpl.literal(name, param="headers").lower()
        if not lowered or not set(lowered) <= _HEADER_NAME:
            raise TemplateInvalid("Invalid header name.", param="headers")
        if any(c in value for c in "\r\n\0"):
            raise TemplateInvalid("Header values must not contain line breaks.", param="headers")
        if lowered not in _MANAGED_HEADERS:
            headers.append((name, tpl.parse(value, param="headers")))
    return _Checked(host, port, target, method, headers, tpl.parse(request.body, param="body"))


def _values(card: CardData, fields: frozenset[str]) -> dict[str, str]:
    values = {
        tpl.NUMBER: card.pan.reveal(),
        tpl.EXP_MONTH: f"{card.expiry.month:02d}",
        tpl.EXP_YEAR: f"{card.expiry.year:04d}",
    }
    if tpl.CVC in fields:
        if card.cvv is None:
            raise CvcUnavailable(param="body")
        values[tpl.CVC] = card.cvv.reveal()
    return values


class _Masker:
    """Masks what came back: every card number by shape (redact), then the exact number
    and security code that were sent, wherever they still appear - glued to letters,
    inside escaped JSON, under a key redact() does not know."""

    def __init__(self, pan: str, masked: str, cvc: str | None) -> None:
        self._pan, self._masked = pan, masked
        self._cvc = re.compile(rf"(?<![0-9]){re.escape(cvc)}(?![0-9])") if cvc else None

    def __call__(self, text: str) -> str:
        text = redact(text).replace(self._pan, self._masked)
        if self._cvc is not None:
            # A bare number equal to the code is masked too: a lost "737" in a response
            # is cheap, an echoed security code is not.
            text = self._cvc.sub("*" * 3, text)
        return text


def _audit(
    engine: Engine,
    *,
    now: datetime,
    actor: str,
    merchant_id: str,
    token: str,
    outcome: str,
    details: dict[str, Any],
) -> None:
    with engine.begin() as conn:
        audit(
            conn,
            now=now,
            actor=actor,
            action="card.forward",
            outcome=outcome,
            merchant_id=merchant_id,
            target=token,
            details=details,
        )


def forward(
    vault: Vault,
    engine: Engine,
    *,
    merchant_id: str,
    token: str,
    request: ForwardRequest,
    now: datetime,
    timeout: float = 10.0,
    resolver: Resolver | None = None,
    policy: ForwardPolicy | None = None,
    actor: str = "api",
) -> ForwardResponse:
    """Forward ``request`` with the card of ``token`` substituted; see the module doc."""
    policy = policy or ForwardPolicy()
    resolver = resolver or SystemResolver()
    audit_base = {"destination": None, "method": request.method[:16]}
    try:
        checked = _check(request)
        audit_base["destination"] = checked.host
        with engine.connect() as conn:
            if not is_allowed(conn, merchant_id, checked.host):
                raise DestinationNotAllowed(param="url")
        address = check_addresses(
            resolver.resolve(checked.host, checked.port), allow_loopback=policy.allow_loopback
        )
    except CardshieldError as exc:
        _audit(
            engine,
            now=now,
            actor=actor,
            merchant_id=merchant_id,
            token=token[:128],
            outcome="refused",
            details={**audit_base, "code": exc.code},
        )
        raise
    fields = checked.fields
    masked = ""
    try:
        with vault.use_for_forwarding(
            merchant_id, token, now=now, actor=actor, purpose=f"forward:{checked.host}"
        ) as card:
            masked = card.pan.masked()
            values = _values(card, fields)
            mask = _Masker(card.pan.reveal(), masked, values.get(tpl.CVC))
            body = checked.body.render(values).encode("utf-8")
            headers = [(k, v.render(values)) for k, v in checked.headers]
            port_part = "" if checked.port == 443 else f":{checked.port}"
            headers += [("Host", checked.host + port_part), ("Content-Length", str(len(body)))]
            raw = exchange(
                method=checked.method,
                host=checked.host,
                port=checked.port,
                target=checked.target,
                address=str(address),
                headers=headers,
                body=body,
                timeout=timeout,
                ssl_context=policy.ssl_context or default_ssl_context(),
                max_bytes=policy.max_response_bytes,
            )
            response = ForwardResponse(
                status=raw.status,
                headers=[(k, mask(v)) for k, v in raw.headers],
                body=mask(raw.body.decode("utf-8", "replace")),
            )
    except CardshieldError as exc:
        _audit(
            engine,
            now=now,
            actor=actor,
            merchant_id=merchant_id,
            token=token[:128],
            outcome="failure",
            details={**audit_base, "masked": masked, "code": exc.code},
        )
        raise
    _audit(
        engine,
        now=now,
        actor=actor,
        merchant_id=merchant_id,
        token=token[:128],
        outcome="success",
        details={
            **audit_base,
            "masked": masked,
            "status": response.status,
            "fields": sorted(fields),
            "address": str(address),
        },
    )
    return response
