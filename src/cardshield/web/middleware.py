"""ASGI middleware: request ids, body size limit, security headers, metrics, access log.

One pure-ASGI layer (no BaseHTTPMiddleware) so streaming bodies are counted as they arrive
and an oversize request is refused before it is read into memory, and so a request pays for
one wrapper of ``send`` rather than one per concern.

The access log line (logger ``cardshield.access``) holds the method, the path (redacted: a
path is free text, never its query string), the route template, the status, the duration,
the request id and the client address (redacted too), written by
:func:`cardshield.redaction.logging.write_fields`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cardshield.redaction.logging import write_fields
from cardshield.redaction.text import redact
from cardshield.web.metrics import METHODS, observe_request

MAX_BODY_BYTES = 64 * 1024

# Headers for every response; pages that need other framing rules set their own.
SECURITY_HEADERS: Mapping[str, str] = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "cross-origin-resource-policy": "same-site",
}

# A response may name default headers it must NOT get, comma-separated, in this header; the
# middleware honours it and strips it before sending. The hosted-fields frame uses it to drop
# X-Frame-Options: its CSP frame-ancestors allows the merchant origins, and a browser that
# knows only X-Frame-Options would otherwise refuse the frame everywhere. Only names listed in
# SECURITY_HEADERS can be omitted, and the header itself never reaches a client.
OMIT_DEFAULTS_HEADER = "cardshield-omit-defaults"


class _TooLarge(Exception):
    pass


def _take_omissions(
    raw: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], set[bytes]]:
    """Split off the OMIT_DEFAULTS_HEADER: the remaining headers and the names it lists."""
    marker = OMIT_DEFAULTS_HEADER.encode()
    omit: set[bytes] = set()
    kept = []
    for name, value in raw:
        if name.lower() == marker:
            omit |= {v.strip().lower() for v in value.split(b",")}
        else:
            kept.append((name, value))
    return kept, omit & {n.encode() for n in SECURITY_HEADERS}


class CardshieldMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = "req_" + secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(send, request_id)
            _account(scope, 413, time.perf_counter() - started, request_id)
            return
        seen = 0
        status = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                raw, omit = _take_omissions(list(message.get("headers", [])))
                present = {k.lower() for k, _ in raw} | omit
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode()))
                raw.append((b"request-id", request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            if not status:
                await self._refuse(send, request_id)
                status = 413
        finally:
            _account(scope, status or 500, time.perf_counter() - started, request_id)

    async def _refuse(self, send: Send, request_id: str) -> None:
        """413 request_too_large (the access log and metrics count it by the caller)."""
        body = json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "request_too_large",
                    "message": f"The request body exceeds {self.max_body} bytes.",
                    "param": None,
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"request-id", request_id.encode())]
        headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _account(scope: Scope, status: int, seconds: float, request_id: str) -> None:
    """Metrics and the access log line of one finished request."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    label = template if isinstance(template, str) else "unmatched"
    method = scope.get("method", "")
    method = method if method in METHODS else "other"
    observe_request(label, method, status, seconds)
    client = scope.get("client")
    path = redact(scope.get("path", ""))
    write_fields(
        "cardshield.access",
        f"{method} {path} {status}",  # what a person scanning the log reads first
        {
            "method": method,
            "path": path,
            "route": label,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "request_id": request_id,
            "client": redact(str(client[0])) if client else None,
        },
    )
