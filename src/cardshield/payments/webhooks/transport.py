"""Webhook HTTP with the address pinned: the name is resolved and checked once, per request,
and the connection goes to the address that passed.

Checking a URL's host name when an endpoint is added is not enough: the name may resolve to
an internal address (10.x, 169.254.169.254, ...) then or later, and a name that resolves
twice can answer differently each time (DNS rebinding). This transport resolves the host,
refuses the request unless every address is public (the forward proxy's rule,
:func:`cardshield.gateways.forward.ssrf.check_addresses`), and connects to that address
while TLS and the ``Host`` header keep the name. Loopback is admitted only with
``allow_loopback`` (the demo and local tests).

Behind an HTTP proxy named in the environment (``HTTPS_PROXY``, ``NO_PROXY``: the egress
proxy of docs/deploy.md) the address is still checked, but the proxy makes the connection
and resolves the name itself: there the proxy's allow-list does the pinning.

A refusal is an :class:`httpx.ConnectError`, so the delivery worker records it as a failed
attempt like any unreachable endpoint.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator

import httpcore
import httpx

from cardshield.errors import CardshieldError
from cardshield.gateways.forward.errors import DestinationPrivateAddress
from cardshield.gateways.forward.ssrf import (
    Resolver,
    SystemResolver,
    check_addresses,
    is_ip_literal,
)
from cardshield.gateways.forward.transport import PinnedBackend

# httpcore's exceptions as httpx's, the ones the delivery worker tells apart.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _translate(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    for theirs, ours in _ERRORS:
        if isinstance(exc, theirs):
            return ours(str(exc), request=request)
    return httpx.TransportError(str(exc), request=request)


class _Body(httpx.SyncByteStream):
    """The response body; closing it closes the one-connection pool behind it."""

    def __init__(
        self, response: httpcore.Response, pool: httpcore.ConnectionPool, request: httpx.Request
    ) -> None:
        self._response, self._pool, self._request = response, pool, request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_stream()
        except httpcore.NetworkError as exc:
            raise _translate(exc, self._request) from None
        except httpcore.TimeoutException as exc:
            raise _translate(exc, self._request) from None

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            self._pool.close()


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that connects only to checked, public addresses."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        allow_loopback: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
    ) -> None:
        self._resolver = resolver or SystemResolver()
        self._allow_loopback = allow_loopback
        # httpx's own default (certifi's CA bundle, SSL_CERT_FILE honoured), as before pinning.
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._trust_env = trust_env
        self._proxied: dict[str, httpx.HTTPTransport] = {}

    def close(self) -> None:
        for transport in self._proxied.values():
            transport.close()
        self._proxied.clear()

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The environment's proxy for ``url``, if one applies (``NO_PROXY`` honoured)."""
        if not self._trust_env:
            return None
        proxies = urllib.request.getproxies()
        proxy = proxies.get(url.scheme)
        if not proxy or urllib.request.proxy_bypass(url.host):
            return None
        return proxy

    def addresses_for(self, host: str, port: int) -> list[str]:
        """The addresses to try for ``host``, in the resolver's order, all of them checked;
        or :class:`CardshieldError`."""
        if is_ip_literal(host):
            addresses: list[str] = [host.strip("[]")]
        else:
            addresses = list(self._resolver.resolve(host, port))
        check_addresses(addresses, allow_loopback=self._allow_loopback)  # every one, or none
        return addresses

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = self.addresses_for(url.host, port)
        except DestinationPrivateAddress:
            raise httpx.ConnectError(
                "the webhook host resolves to an internal address", request=request
            ) from None
        except CardshieldError:
            raise httpx.ConnectError("the webhook host does not resolve", request=request) from None
        proxy = self.proxy_for(url)
        if proxy is not None:
            if proxy not in self._proxied:
                self._proxied[proxy] = httpx.HTTPTransport(
                    verify=self._ssl, proxy=proxy, trust_env=False
                )
            return self._proxied[proxy].handle_request(request)
        pool = httpcore.ConnectionPool(
            ssl_context=self._ssl,
            network_backend=PinnedBackend(addresses),
            max_connections=1,
            retries=0,
        )
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = pool.handle_request(core)
        except Exception as exc:  # httpcore's and ssl's errors alike become httpx's
            pool.close()
            raise _translate(exc, request) from None
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, pool, request),
            extensions=response.extensions,
        )


__all__ = ["PinnedTransport"]
