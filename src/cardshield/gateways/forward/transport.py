"""One HTTPS exchange with a pinned address: no DNS, no redirects, bounded in time and size.

The TCP connection goes to the address the SSRF check approved, while TLS (SNI and
certificate check) and the ``Host`` header use the original name. httpcore is used
directly, below httpx, because it lets us supply the network backend that does that and
never follows a redirect on its own.

Third-party exceptions are mapped to our errors without keeping them in the chain: their
tracebacks reach frames whose locals hold the rendered request (card data).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore

from cardshield.errors import CardshieldError
from cardshield.gateways.forward.errors import (
    UpstreamError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects every TCP stream to the checked addresses, whatever host name it is asked
    for: each in turn until one answers, as a plain connection tries a name's addresses
    ("localhost" is ::1 and 127.0.0.1, and a server may listen on only one)."""

    def __init__(self, addresses: Sequence[str]) -> None:
        if not addresses:
            raise ValueError("no address to connect to")
        self._addresses = list(addresses)
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        def connect(address: str) -> httpcore.NetworkStream:
            return self._backend.connect_tcp(
                address,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )

        *earlier, last = self._addresses
        for address in earlier:
            try:
                return connect(address)
            except httpcore.ConnectError:
                continue  # the next address may answer
        return connect(last)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not a destination")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def default_ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def exchange(
    *,
    method: str,
    host: str,
    port: int,
    target: str,
    address: str,
    headers: list[tuple[str, str]],
    body: bytes,
    timeout: float,
    ssl_context: ssl.SSLContext,
    max_bytes: int,
) -> RawResponse:
    """Send one request to ``https://host:port`` + ``target`` over a connection to
    ``address``; the whole exchange must finish within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    url = httpcore.URL(scheme=b"https", host=host.encode("ascii"), port=port, target=target)
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    failure: CardshieldError | None = None
    try:
        with (
            httpcore.ConnectionPool(
                ssl_context=ssl_context,
                network_backend=PinnedBackend([address]),
                max_connections=1,
                retries=0,
            ) as pool,
            pool.stream(
                method.encode("ascii"),
                url,
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                content=body,
                extensions={"timeout": limits},
            ) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_stream():
                size += len(chunk)
                if size > max_bytes:
                    raise UpstreamResponseTooLarge
                if time.monotonic() > deadline:
                    raise UpstreamTimeout  # a server that drips bytes forever
                chunks.append(chunk)
            return RawResponse(
                status=response.status,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers],
                body=b"".join(chunks),
            )
    except CardshieldError:
        raise
    except httpcore.TimeoutException:
        failure = UpstreamTimeout()
    except (httpcore.ProtocolError, httpcore.NetworkError, httpcore.UnsupportedProtocol):
        failure = UpstreamError()
    except (ssl.SSLError, OSError):
        failure = UpstreamError()
    # Raised outside the except blocks, so the library exception is not its __context__.
    raise failure
