"""Server-side request forgery guards: which hosts and addresses card data may go to.

Two checks, both needed:

1. :func:`check_host` - the URL names a DNS host, never an address. Besides the usual
   dotted quad and IPv6 in brackets, resolvers and URL parsers accept ``2130706433``,
   ``0x7f000001``, ``0177.0.0.1``, ``127.1`` and ``0x7f.1`` for 127.0.0.1; following the
   WHATWG URL standard, a host whose last label is a number (decimal, octal or hex) is an
   IPv4 address, and no DNS name ends in one. The check runs on the host as a URL parser
   reads it (:func:`normalize_host`), so ``127\u30020\u30020\u30021`` and fullwidth
   digits are addresses too.
2. :func:`check_addresses` - every address the name resolves to is public. Refused:
   loopback, private (RFC 1918, ULA), link-local (the 169.254.169.254 metadata service
   included), CGNAT (100.64/10), multicast, unspecified, reserved and documentation ranges,
   and IPv6 forms that carry one of those IPv4 addresses inside (mapped, 6to4, NAT64).

The caller then connects to the checked address itself (see ``transport``), so a second
DNS answer cannot swap in another address between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from cardshield.gateways.forward.errors import (
    DestinationInvalid,
    DestinationIpLiteral,
    DestinationPrivateAddress,
    DestinationUnresolvable,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A number as inet_aton() and the WHATWG IPv4 parser read it: decimal, 0-octal, 0x-hex.
_NUMERIC = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Full stops that IDNA (and so every URL parser) reads as ".": ideographic, fullwidth and
# halfwidth ideographic. NFKC turns the fullwidth one into "." but not the other two.
_DOTS = str.maketrans("\u3002\uff0e\uff61", "...")


class Resolver(Protocol):
    """Turns a host name into the addresses to connect to (strings, v4 or v6)."""

    def resolve(self, host: str, port: int) -> Sequence[str]: ...


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``)."""

    def resolve(self, host: str, port: int) -> Sequence[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise DestinationUnresolvable from exc
        seen: dict[str, None] = {}
        for info in infos:
            seen[str(info[4][0])] = None
        return list(seen)


class StaticResolver:
    """A fixed name -> addresses table, for tests and pinned deployments."""

    def __init__(self, table: Mapping[str, Iterable[str]]) -> None:
        self._table = {name.lower(): list(addrs) for name, addrs in table.items()}

    def resolve(self, host: str, port: int) -> Sequence[str]:
        addrs = self._table.get(host.lower())
        if not addrs:
            raise DestinationUnresolvable
        return addrs


def normalize_host(host: str) -> str:
    """``host`` as a URL parser hands it to the resolver: NFKC (fullwidth digits and letters
    become ASCII), every full stop ``.``, lower case, non-ASCII labels IDNA-encoded, no
    trailing dot. Every check on a host runs on this form, when a destination is added and
    when it is used. Raises :class:`UnicodeError` for a name IDNA cannot encode."""
    name = unicodedata.normalize("NFKC", host.strip()).translate(_DOTS).lower()
    if not name.isascii():
        name = name.encode("idna").decode("ascii").lower()
    return name.rstrip(".")


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IP address in any form a parser or resolver would accept
    (also spelled with Unicode digits or full stops, see :func:`normalize_host`)."""
    try:
        h = normalize_host(host)
    except UnicodeError:
        h = host.strip().lower()  # not a name IDNA accepts; judge it as written
    if h.startswith("[") or ":" in h:
        return True  # IPv6 (bracketed or bare, with or without a zone)
    try:
        ipaddress.ip_address(h)
        return True
    except ValueError:
        pass
    labels = h.split(".")
    if labels and labels[-1] == "":
        labels = labels[:-1]  # a trailing dot is the root label
    return bool(labels) and _NUMERIC.match(labels[-1]) is not None


def check_host(host: str) -> str:
    """The normalized (lower-case, IDNA, no trailing dot) DNS name, or an error."""
    if not host:
        raise DestinationInvalid("The destination URL has no host.", param="url")
    try:
        name = normalize_host(host)
    except UnicodeError as exc:
        raise DestinationInvalid("The destination host is not a valid DNS name.") from exc
    if is_ip_literal(name):
        raise DestinationIpLiteral
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise DestinationInvalid("The destination host is not a valid DNS name.", param="url")
    return name


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None or ip in _NAT64_LOCAL or ip.teredo is not None:
            return False
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    elif ip in _CGNAT:
        return False
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    )


def is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def check_addresses(addresses: Sequence[str], *, allow_loopback: bool = False) -> IPAddress:
    """The address to connect to, if EVERY resolved address is acceptable.

    One bad address refuses the lot: a name that resolves to both a public and an internal
    address is exactly what a rebinding attack looks like. ``allow_loopback`` admits
    127.0.0.0/8 and ::1 too (local tests and demos only).
    """
    if not addresses:
        raise DestinationUnresolvable
    checked: list[IPAddress] = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError as exc:
            raise DestinationUnresolvable from exc
        if not (is_public(ip) or (allow_loopback and is_loopback(ip))):
            raise DestinationPrivateAddress
        checked.append(ip)
    return checked[0]
