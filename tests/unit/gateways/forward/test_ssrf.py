from __future__ import annotations

import ipaddress

import pytest

from cardshield.gateways.forward.errors import (
    DestinationInvalid,
    DestinationIpLiteral,
    DestinationPrivateAddress,
    DestinationUnresolvable,
)
from cardshield.gateways.forward.ssrf import (
    StaticResolver,
    SystemResolver,
    check_addresses,
    check_host,
    is_ip_literal,
    is_public,
)

LITERALS = [
    "127.0.0.1",
    "10.0.0.1",
    "8.8.8.8",
    "169.254.169.254",
    "2130706433",  # decimal 127.0.0.1
    "0x7f000001",  # hex
    "0X7F000001",
    "0177.0.0.1",  # octal
    "0177.0.0.01",
    "127.1",  # short forms
    "127.0.1",
    "0x7f.1",
    "0x7f.0x0.0x0.0x1",
    "017700000001",
    "0",
    "0x",
    "[::1]",
    "::1",
    "::ffff:127.0.0.1",
    "[::ffff:7f00:1]",
    "fe80::1%eth0",
    "127.0.0.1.",  # trailing root dot
    "1.2.3.4.5",  # still ends in a number
    "example.123",
]


@pytest.mark.parametrize("host", LITERALS)
def test_ip_literals_in_every_form_are_refused(host: str) -> None:
    assert is_ip_literal(host)
    with pytest.raises(DestinationIpLiteral):
        check_host(host)


# Addresses in Unicode spellings that NFKC and the full-stop mapping turn into the above.
SPELLED_LITERALS = [
    "127\u30020\u30020\u30021",  # ideographic full stop
    "127\uff0e0\uff0e0\uff0e1",  # fullwidth full stop
    "127\uff610\uff610\uff611",  # halfwidth ideographic full stop
    "\uff18.\uff18.\uff18.\uff18",  # fullwidth digits: 8.8.8.8
    "\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13",
    "0x7f\u30021",
    "example\u3002\uff11\uff12\uff13",
]


@pytest.mark.parametrize("host", SPELLED_LITERALS)
def test_ip_literals_are_found_after_normalisation(host: str) -> None:
    assert is_ip_literal(host)
    with pytest.raises(DestinationIpLiteral):
        check_host(host)


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("api.processor.example", "api.processor.example"),
        ("API.Processor.Example.", "api.processor.example"),
        ("1e100.net", "1e100.net"),
        ("0x7f.example", "0x7f.example"),  # a number only in the first label
        ("bücher.example", "xn--bcher-kva.example"),
        ("b\u00fccher\u3002example", "xn--bcher-kva.example"),
        ("\uff21\uff30\uff29.example", "api.example"),  # fullwidth letters
    ],
)
def test_dns_names(host: str, normalized: str) -> None:
    assert not is_ip_literal(host)
    assert check_host(host) == normalized


@pytest.mark.parametrize(
    "host", ["", "localhost", "-bad.example", "a..b", "x_y.example", "a" * 64 + ".com"]
)
def test_invalid_names(host: str) -> None:
    with pytest.raises(DestinationInvalid):
        check_host(host)


PRIVATE = [
    "127.0.0.1",  # loopback
    "127.255.0.9",
    "::1",
    "10.1.2.3",  # RFC 1918
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "fd00::1",  # ULA
    "fc00::5",
    "169.254.169.254",  # link-local: cloud metadata
    "169.254.0.1",
    "fe80::1",
    "fd00:ec2::254",  # AWS metadata over IPv6 (ULA)
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "224.0.0.1",  # multicast
    "ff02::1",
    "0.0.0.0",  # unspecified
    "::",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "2001:0::1",  # Teredo
    "2001:db8::1",  # documentation
]


@pytest.mark.parametrize("address", PRIVATE)
def test_internal_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(DestinationPrivateAddress):
        check_addresses([address])


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert check_addresses([address]) == ipaddress.ip_address(address)


def test_one_bad_answer_refuses_the_lot() -> None:
    with pytest.raises(DestinationPrivateAddress):
        check_addresses(["93.184.216.34", "10.0.0.1"])
    with pytest.raises(DestinationUnresolvable):
        check_addresses([])
    with pytest.raises(DestinationUnresolvable):
        check_addresses(["not-an-ip"])


def test_loopback_only_when_allowed_and_nothing_else_opens_up() -> None:
    assert str(check_addresses(["127.0.0.1"], allow_loopback=True)) == "127.0.0.1"
    assert str(check_addresses(["::1"], allow_loopback=True)) == "::1"
    for inside in ("10.0.0.1", "169.254.169.254", "0.0.0.0", "fd00::1"):
        with pytest.raises(DestinationPrivateAddress):
            check_addresses([inside], allow_loopback=True)


def test_resolvers() -> None:
    table = StaticResolver({"Pay.Test": ["127.0.0.1"]})
    assert table.resolve("pay.test", 443) == ["127.0.0.1"]
    with pytest.raises(DestinationUnresolvable):
        table.resolve("other.test", 443)
    assert "127.0.0.1" in SystemResolver().resolve("localhost", 443) or "::1" in (
        SystemResolver().resolve("localhost", 443)
    )
    with pytest.raises(DestinationUnresolvable):
        SystemResolver().resolve("no-such-host.invalid", 443)
