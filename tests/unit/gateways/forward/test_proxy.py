"""The forward proxy against a real local HTTPS server, and every refusal before it."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from cardshield.errors import CardshieldError
from cardshield.gateways.forward import (
    ForwardPolicy,
    ForwardRequest,
    StaticResolver,
    forward,
    list_destinations,
    remove_destination,
)
from cardshield.gateways.forward.errors import (
    CvcUnavailable,
    DestinationInsecure,
    DestinationInvalid,
    DestinationIpLiteral,
    DestinationNotAllowed,
    DestinationPrivateAddress,
    TemplateInvalid,
    UpstreamError,
    UpstreamResponseTooLarge,
    UpstreamTimeout,
)
from cardshield.storage.schema import audit_log
from cardshield.vault.errors import TokenAlreadyUsed
from tests.conftest import CANARY_CVV, CANARY_PAN, assert_no_card_data
from tests.unit.gateways.forward.conftest import NOW, Shop
from tests.unit.gateways.forward.tls_server import HOST, Certs, CountingResolver, HttpsServer

MASKED = "424242******4242"
BODY = (
    '{"card":{"number":"{{card.number}}","exp":"{{card.exp_month}}/{{card.exp_year}}",'
    '"cvc":"{{card.cvc}}"},"amount":1000}'
)


def _loopback(certs: Certs) -> ForwardPolicy:
    # Loopback is allowed for these tests only: the real server listens on 127.0.0.1.
    return ForwardPolicy(allow_loopback=True, ssl_context=certs.client_context())


def _audit_rows(shop: Shop) -> list[dict[str, object]]:
    with shop.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    return [dict(r._mapping) for r in rows]


def test_happy_path_upstream_sees_the_card_caller_sees_it_masked(
    shop: Shop, upstream: HttpsServer, certs: Certs, redacting_logs: list[logging.LogRecord]
) -> None:
    shop.allow(HOST)
    token = shop.card()
    resolver = CountingResolver({HOST: ["127.0.0.1"]})
    response = forward(
        shop.vault,
        shop.engine,
        merchant_id=shop.merchant,
        token=token,
        request=ForwardRequest(
            "POST",
            upstream.url("/echo?ref=1"),
            headers={
                "Content-Type": "application/json",
                "X-Card-Number": "{{card.number}}",
                "X-Card-Cvc": "{{card.cvc}}",
                "Host": "evil.example",  # ignored: the proxy sets Host itself
            },
            body=BODY,
        ),
        now=NOW,
        resolver=resolver,
        policy=_loopback(certs),
    )
    # The upstream got the real card, by name (SNI and Host), over the pinned address.
    (seen,) = upstream.upstream.requests
    sent = json.loads(seen.body)
    assert sent["card"] == {"number": CANARY_PAN, "exp": "03/2031", "cvc": CANARY_CVV}
    assert seen.headers["X-Card-Number"] == CANARY_PAN
    assert seen.headers["Host"] == f"{HOST}:{upstream.port}"
    assert seen.path == "/echo?ref=1"
    assert upstream.upstream.sni == [HOST]
    assert resolver.calls == [HOST]  # one lookup, no second one to rebind
    # The caller gets the echo with every card number and named CVC masked.
    assert response.status == 200
    assert MASKED in response.body
    assert_no_card_data(response.body)
    assert f'"cvc": "{CANARY_CVV}"' not in response.body
    assert f'\\"cvc\\":\\"{CANARY_CVV}\\"' not in response.body
    headers = dict(response.headers)
    assert headers["X-Echo-Card"] == MASKED
    assert_no_card_data(repr(response))
    # Audit: one card.use (vault) and one card.forward, masked only.
    rows = _audit_rows(shop)
    fwd = [r for r in rows if r["action"] == "card.forward"]
    assert len(fwd) == 1 and fwd[0]["outcome"] == "success" and fwd[0]["target"] == token
    details = json.loads(str(fwd[0]["details"]))
    assert details["destination"] == HOST and details["masked"] == MASKED
    assert details["status"] == 200
    assert [r["action"] for r in rows].count("card.use") == 1
    assert_no_card_data(repr(rows))
    # Logs, at DEBUG and including the HTTP library's traces, hold no card data.
    assert redacting_logs, "expected the HTTP library's debug traces"
    logged = "\n".join(r.getMessage() for r in redacting_logs)
    assert MASKED in logged  # the traces did carry the echoed header: redacted
    assert_no_card_data(logged)
    # The token was single-use and the CVV is gone.
    with pytest.raises(TokenAlreadyUsed):
        forward(
            shop.vault, shop.engine, merchant_id=shop.merchant, token=token,
            request=ForwardRequest("POST", upstream.url("/echo"), body="{{card.number}}"),
            now=NOW, resolver=resolver, policy=_loopback(certs),
        )  # fmt: skip


def test_cvc_is_used_once(shop: Shop, upstream: HttpsServer, certs: Certs) -> None:
    shop.allow(HOST)
    token = shop.card(single_use=False)
    resolver = StaticResolver({HOST: ["127.0.0.1"]})
    request = ForwardRequest("PUT", upstream.url("/echo"), body="cvc={{card.cvc}}")
    kwargs = {"merchant_id": shop.merchant, "token": token, "now": NOW, "resolver": resolver}
    first = forward(shop.vault, shop.engine, request=request, policy=_loopback(certs), **kwargs)  # type: ignore[arg-type]
    assert first.status == 200 and CANARY_CVV not in first.body
    assert upstream.upstream.requests[0].body == f"cvc={CANARY_CVV}".encode()
    with pytest.raises(CvcUnavailable):
        forward(shop.vault, shop.engine, request=request, policy=_loopback(certs), **kwargs)  # type: ignore[arg-type]
    # Without {{card.cvc}} the reusable card still forwards.
    again = forward(
        shop.vault, shop.engine, request=ForwardRequest("GET", upstream.url("/echo")),
        policy=_loopback(certs), **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    assert again.status == 200
    assert len(upstream.upstream.requests) == 2


def _refused(
    shop: Shop,
    url: str,
    *,
    body: str = "{{card.number}}",
    headers: dict[str, str] | None = None,
    table: dict[str, list[str]] | None = None,
    policy: ForwardPolicy | None = None,
    method: str = "POST",
) -> CardshieldError:
    token = shop.card()
    with pytest.raises(CardshieldError) as err:
        forward(
            shop.vault, shop.engine, merchant_id=shop.merchant, token=token,
            request=ForwardRequest(method, url, headers=headers or {}, body=body), now=NOW,
            resolver=StaticResolver(table or {}), policy=policy,
        )  # fmt: skip
    # Refused before the vault: the single-use token is still unused, nothing decrypted.
    assert shop.vault.retrieve(shop.merchant, token).used_at is None
    rows = _audit_rows(shop)
    assert "card.use" not in [r["action"] for r in rows]
    last = rows[-1]
    assert last["action"] == "card.forward" and last["outcome"] == "refused"
    assert json.loads(str(last["details"]))["code"] == err.value.code
    return err.value


LITERAL_URLS = [
    "https://127.0.0.1/pay",
    "https://10.0.0.1/pay",
    "https://8.8.8.8/pay",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/pay",
    "https://[::ffff:127.0.0.1]/pay",
    "https://[fe80::1%25eth0]/pay",
    "https://2130706433/pay",
    "https://0x7f000001/pay",
    "https://0177.0.0.1/pay",
    "https://127.1/pay",
    "https://0x7f.1/pay",
    "https://\uff18.\uff18.\uff18.\uff18/pay",
    "https://127\u30020\u30020\u30021/pay",
    "https://%31%32%37.0.0.1/pay",
]


@pytest.mark.parametrize("url", LITERAL_URLS)
def test_ip_literals(refusal_shop: Shop, url: str) -> None:
    err = _refused(refusal_shop, url)
    assert isinstance(err, DestinationIpLiteral) and err.http_status == 400


RESOLVES_INSIDE = [
    ["127.0.0.1"],
    ["::1"],
    ["10.2.3.4"],
    ["172.20.0.1"],
    ["192.168.0.10"],
    ["fd12:3456::1"],
    ["169.254.169.254"],
    ["fe80::1"],
    ["100.64.1.1"],
    ["0.0.0.0"],
    ["224.0.0.251"],
    ["240.1.2.3"],
    ["::ffff:169.254.169.254"],
    ["2002:a9fe:a9fe::1"],
    ["93.184.216.34", "10.0.0.7"],  # a public answer does not excuse a private one
]


@pytest.mark.parametrize("addresses", RESOLVES_INSIDE)
def test_names_resolving_inside(refusal_shop: Shop, addresses: list[str]) -> None:
    refusal_shop.allow("internal.example")
    err = _refused(
        refusal_shop, "https://internal.example/pay", table={"internal.example": addresses}
    )
    assert isinstance(err, DestinationPrivateAddress) and err.http_status == 403


def test_allowing_loopback_opens_nothing_else(refusal_shop: Shop, certs: Certs) -> None:
    refusal_shop.allow("internal.example")
    for inside in ("169.254.169.254", "10.0.0.1", "fd00::1"):
        err = _refused(
            refusal_shop,
            "https://internal.example/pay",
            table={"internal.example": [inside]},
            policy=_loopback(certs),
        )
        assert isinstance(err, DestinationPrivateAddress)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://pay.test/pay", DestinationInsecure),
        ("ftp://pay.test/pay", DestinationInsecure),
        ("pay.test/pay", DestinationInvalid),
        ("https://user:pw@pay.test/pay", DestinationInvalid),
        ("https://pay.test:99999/pay", DestinationInvalid),
        ("https://pay.test/a b", DestinationInvalid),
        ("https://not-listed.example/pay", DestinationNotAllowed),
        ("https://pay.test.evil.example/pay", DestinationNotAllowed),
        ("https://sub.pay.test/pay", DestinationNotAllowed),
        ("https://pay.test/{{card.number}}", TemplateInvalid),
    ],
)
def test_url_refusals(refusal_shop: Shop, url: str, error: type[CardshieldError]) -> None:
    refusal_shop.allow("pay.test")
    err = _refused(refusal_shop, url, table={"pay.test": ["93.184.216.34"]})
    assert type(err) is error


@pytest.mark.parametrize(
    ("body", "headers", "method"),
    [
        ("{{card.pin}}", {}, "POST"),
        ("{{card.number}", {}, "POST"),
        ("", {"X-A": "{{card.nope}}"}, "POST"),
        ("", {"{{card.number}}": "x"}, "POST"),
        ("", {"X-A": "a\r\nX-Injected: 1"}, "POST"),
        ("", {"Bad Name": "x"}, "POST"),
        ("", {}, "CONNECT"),
    ],
)
def test_template_refusals(
    refusal_shop: Shop, body: str, headers: dict[str, str], method: str
) -> None:
    refusal_shop.allow("pay.test")
    err = _refused(
        refusal_shop,
        "https://pay.test/pay",
        body=body,
        headers=headers,
        method=method,
        table={"pay.test": ["93.184.216.34"]},
    )
    assert isinstance(err, TemplateInvalid) and err.code == "template_invalid"


def test_redirects_are_returned_not_followed(
    sqlite_shop: Shop, upstream: HttpsServer, certs: Certs
) -> None:
    sqlite_shop.allow(HOST)
    response = forward(
        sqlite_shop.vault, sqlite_shop.engine, merchant_id=sqlite_shop.merchant,
        token=sqlite_shop.card(), request=ForwardRequest("POST", upstream.url("/redirect")),
        now=NOW, resolver=StaticResolver({HOST: ["127.0.0.1"]}), policy=_loopback(certs),
    )  # fmt: skip
    assert response.status == 302
    assert dict(response.headers)["Location"].endswith("/echo")
    assert [r.path for r in upstream.upstream.requests] == ["/redirect"]


def test_upstream_failures_are_502_and_504(
    sqlite_shop: Shop, upstream: HttpsServer, certs: Certs
) -> None:
    sqlite_shop.allow(HOST)
    resolver = StaticResolver({HOST: ["127.0.0.1"]})

    def call(path: str, policy: ForwardPolicy, timeout: float = 5.0) -> CardshieldError:
        token = sqlite_shop.card()
        with pytest.raises(CardshieldError) as err:
            forward(
                sqlite_shop.vault, sqlite_shop.engine, merchant_id=sqlite_shop.merchant,
                token=token, request=ForwardRequest("POST", upstream.url(path)), now=NOW,
                resolver=resolver, policy=policy, timeout=timeout,
            )  # fmt: skip
        assert err.value.__cause__ is None and err.value.__context__ is None
        return err.value

    slow = call("/slow", _loopback(certs), timeout=0.5)
    assert isinstance(slow, UpstreamTimeout) and slow.http_status == 504
    small = ForwardPolicy(
        allow_loopback=True, ssl_context=certs.client_context(), max_response_bytes=1000
    )
    big = call("/big", small)
    assert isinstance(big, UpstreamResponseTooLarge) and big.http_status == 502
    # The system trust store does not know the test CA: the TLS check fails, nothing sent.
    before = len(upstream.upstream.requests)
    untrusted = call("/echo", ForwardPolicy(allow_loopback=True))
    assert isinstance(untrusted, UpstreamError) and untrusted.code == "upstream_error"
    assert len(upstream.upstream.requests) == before
    outcomes = [r["outcome"] for r in _audit_rows(sqlite_shop) if r["action"] == "card.forward"]
    assert outcomes == ["failure", "failure", "failure"]


def test_connection_refused(sqlite_shop: Shop, certs: Certs) -> None:
    sqlite_shop.allow(HOST)
    with pytest.raises(UpstreamError):
        forward(
            sqlite_shop.vault, sqlite_shop.engine, merchant_id=sqlite_shop.merchant,
            token=sqlite_shop.card(), request=ForwardRequest("GET", f"https://{HOST}:1/x"),
            now=NOW, resolver=StaticResolver({HOST: ["127.0.0.1"]}), policy=_loopback(certs),
        )  # fmt: skip


def test_allow_list_management(shop: Shop) -> None:
    shop.allow("API.Processor.Example.", "api.processor.example", "b.example")
    with shop.engine.begin() as conn:
        assert list_destinations(conn, merchant_id=shop.merchant) == [
            "api.processor.example",
            "b.example",
        ]
        assert remove_destination(conn, merchant_id=shop.merchant, host="b.example", now=NOW)
        assert not remove_destination(conn, merchant_id=shop.merchant, host="b.example", now=NOW)
        assert list_destinations(conn, merchant_id=shop.merchant) == ["api.processor.example"]
    actions = [r["action"] for r in _audit_rows(shop)]
    assert actions.count("forward.destination.add") == 2
    assert actions.count("forward.destination.remove") == 1
    for bad, error in [
        ("https://a.example", DestinationInvalid),
        ("a.example:443", DestinationInvalid),
        ("a.example/path", DestinationInvalid),
        ("127.0.0.1", DestinationIpLiteral),
        ("0x7f.1", DestinationIpLiteral),
        ("\uff18.\uff18.\uff18.\uff18", DestinationIpLiteral),  # fullwidth 8.8.8.8
        ("8\u30028\u30028\u30028", DestinationIpLiteral),  # ideographic full stops
    ]:
        with pytest.raises(error):
            shop.allow(bad)
