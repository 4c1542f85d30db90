from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from cardshield.cards import IIN_TABLE
from cardshield.security.apikeys import create_key, revoke
from cardshield.security.permissions import PUBLIC, iter_routes, route_access
from cardshield.web import sri
from cardshield.web.middleware import OMIT_DEFAULTS_HEADER, CardshieldMiddleware
from cardshield.web.routers.elements import sanitize_style
from tests.apps import NOW, Api
from tests.databases import sqlite_database

STATIC = Path(sri.__file__).parent / "static" / "elements" / "v1"
SHOP = "https://shop.example"


class Page(HTMLParser):
    """Elements and attributes of an HTML page, to check what the frame really contains."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **want: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in want.items())
        ]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: these routes just look a key up, and the key store itself is tested
    against both databases in tests/unit/security."""
    return sqlite_database(tmp_path)


def _frame(api: Api, key: str | None = None, parent: str = SHOP, **extra: str):  # type: ignore[no-untyped-def]
    params = {"key": key or api.publishable, "parent": parent, **extra}
    return api.client.get("/elements/v1/frame", params=params)


def _key(api: Api, origins: list[str]) -> tuple[str, str]:
    with api.runtime.engine.begin() as conn:
        created = create_key(
            conn,
            now=NOW,
            merchant_id=api.merchant,
            kind="publishable",
            scopes=["tokens:create"],
            allowed_origins=origins,
        )
    return created.info.id, created.key.reveal()


def _csp(ancestors: str) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )


# ---- the frame page ---------------------------------------------------------------------------


def test_frame_page_headers_for_an_allowed_parent(api: Api) -> None:
    resp = _frame(api)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    assert resp.headers["content-security-policy"] == _csp(SHOP)
    assert "x-frame-options" not in resp.headers
    assert OMIT_DEFAULTS_HEADER not in resp.headers
    assert "set-cookie" not in resp.headers
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_frame_ancestors_lists_every_origin_of_the_key(api: Api) -> None:
    _, key = _key(api, ["https://b.example", "https://a.example:8443", "http://localhost:5173"])
    for parent in ("https://b.example", "http://localhost:5173"):
        resp = _frame(api, key, parent)
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-security-policy"] == _csp(
            "http://localhost:5173 https://a.example:8443 https://b.example"
        )


def test_frame_page_has_no_inline_code_and_accessible_autofillable_fields(api: Api) -> None:
    page = Page(_frame(api).text)
    scripts = page.find("script")
    assert [s["src"] for s in scripts] == ["/elements/v1/cardrules.js", "/elements/v1/frame.js"]
    assert [s["href"] for s in page.find("link")] == ["/elements/v1/frame.css"]
    assert not page.find("style")
    for _, attrs in page.tags:
        assert "style" not in attrs
        assert not [a for a in attrs if a.startswith("on")], attrs
    expected = {
        "cs-number": "cc-number",
        "cs-expiry": "cc-exp",
        "cs-cvc": "cc-csc",
    }
    for input_id, autocomplete in expected.items():
        (field,) = page.find("input", id=input_id)
        assert field["autocomplete"] == autocomplete
        assert field["inputmode"] == "numeric"
        assert field["aria-invalid"] == "false"
        assert page.find("label", for_=input_id), f"no label for {input_id}"
        (error,) = page.find("p", id=f"{input_id}-error")
        assert error["role"] == "alert"
        assert field["aria-describedby"] == f"{input_id}-error"
    assert not page.find("input", id="cs-postal")
    (form,) = page.find("form", id="cs-form")
    assert form["data-key"] == api.publishable
    assert form["data-parent"] == SHOP
    assert form["data-postal"] == "0"


def test_postal_code_field_only_when_asked(api: Api) -> None:
    page = Page(_frame(api, postal="1").text)
    (postal,) = page.find("input", id="cs-postal")
    assert postal["autocomplete"] == "postal-code"
    assert page.find("label", for_="cs-postal")
    assert page.find("form", id="cs-form")[0]["data-postal"] == "1"


def test_frame_pins_its_script_and_stylesheet_with_sri(api: Api) -> None:
    page = Page(_frame(api).text)
    elements = [*page.find("script"), *page.find("link")]
    assert len(elements) == 3
    for element in elements:
        path = element.get("src") or element["href"]
        body = api.client.get(path).content
        digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
        assert element["integrity"] == f"sha384-{digest}", path


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"parent": SHOP}, 400),  # no key
        ({"key": "pk_live_" + "A" * 43, "parent": SHOP}, 403),  # unknown key
        ({"key": "{sk}", "parent": SHOP}, 403),  # a secret key is refused too
        ({"key": "{pk}", "parent": "https://evil.example"}, 403),
        ({"key": "{pk}", "parent": "https://shop.example.evil.example"}, 403),
        ({"key": "{pk}", "parent": "http://shop.example"}, 400),  # not https: malformed
        ({"key": "{pk}", "parent": "https://shop.example/checkout"}, 400),
        ({"key": "{pk}", "parent": "HTTPS://SHOP.EXAMPLE"}, 400),  # not in origin form
        ({"key": "{pk}", "parent": "null"}, 400),
        ({"key": "{pk}"}, 400),
    ],
)
def test_frame_refused(api: Api, params: dict[str, str], status: int) -> None:
    keys = {"{pk}": api.publishable, "{sk}": api.secret}
    params = {k: keys.get(v, v) for k, v in params.items()}
    resp = api.client.get("/elements/v1/frame", params=params)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert "cannot be shown" in resp.text
    assert "<input" not in resp.text and "<script" not in resp.text
    # The refusal keeps the default framing rules: it is not shown inside any page.
    assert resp.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
    assert api.secret not in resp.text


def test_revoked_key_is_refused(api: Api) -> None:
    key_id, key = _key(api, [SHOP])
    assert _frame(api, key).status_code == 200
    with api.runtime.engine.begin() as conn:
        revoke(conn, now=NOW, merchant_id=api.merchant, key_id=key_id)
    resp = _frame(api, key)
    assert resp.status_code == 403
    assert "revoked" in resp.text


def test_elements_routes_stay_out_of_the_api_description(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/elements")]


def test_elements_routes_are_declared_public(api: Api) -> None:
    routes = [
        r
        for r in iter_routes(api.client.app)
        if str(getattr(r, "path", "")).startswith("/elements")
    ]
    assert len(routes) == 6
    assert {route_access(r) for r in routes} == {PUBLIC}


# ---- styling ----------------------------------------------------------------------------------


def test_style_allow_list() -> None:
    style = {
        "base": {
            "color": "#32325d",
            "fontFamily": '"Helvetica Neue", Arial, sans-serif',
            "fontSize": "16px",
            "padding": "8px 10px",
            "backgroundColor": "rgba(255, 255, 255, 0.9)",
            "::placeholder": {"color": "hsl(0, 0%, 60%)"},
            "position": "absolute",  # not on the list
        },
        "invalid": {"color": "#fa755a", "fontSize": "20px"},  # fontSize not for this variant
        "focus": {"borderColor": "blue"},
        "evil": {"color": "red"},
    }
    assert sanitize_style(json.dumps(style)) == {
        "--cs-base-color": "#32325d",
        "--cs-base-font-family": '"Helvetica Neue", Arial, sans-serif',
        "--cs-base-font-size": "16px",
        "--cs-base-padding": "8px 10px",
        "--cs-base-background-color": "rgba(255, 255, 255, 0.9)",
        "--cs-base-placeholder-color": "hsl(0, 0%, 60%)",
        "--cs-invalid-color": "#fa755a",
        "--cs-focus-border-color": "blue",
    }


@pytest.mark.parametrize(
    "value",
    [
        "url(https://evil.example/x.png)",
        "URL(x)",
        "image-set('x.png' 1x)",
        "var(--x)",
        "expression(alert(1))",
        "red; background: blue",
        "red}body{color:red",
        "\\75 rl(x)",
        "'unbalanced",
        "red /* comment */",
        "@import x",
        "</style><script>",
        "x" * 101,
        "",
        True,
        None,
        ["red"],
    ],
)
def test_style_values_that_could_load_or_inject_are_dropped(value: object) -> None:
    assert sanitize_style(json.dumps({"base": {"color": value}})) == {}


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", '"red"', "{" * 5000])
def test_malformed_style_is_ignored(raw: str) -> None:
    assert sanitize_style(raw) == {}


def test_style_reaches_the_frame_escaped_and_sanitized(api: Api) -> None:
    style = {"base": {"fontFamily": '"Avenir", sans-serif', "color": "url(x)"}}
    resp = _frame(api, style=json.dumps(style))
    assert resp.status_code == 200
    assert '"Avenir"' not in resp.text  # quotes are escaped inside the attribute
    (form,) = Page(resp.text).find("form", id="cs-form")
    assert json.loads(form["data-style"] or "") == {"--cs-base-font-family": '"Avenir", sans-serif'}


# ---- assets and SRI ---------------------------------------------------------------------------


def test_sri_manifest_matches_the_served_bytes(api: Api) -> None:
    resp = api.client.get("/elements/v1/sri.json")
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    manifest = resp.json()
    assert set(manifest) == {"cardshield.js", "cardrules.js", "frame.js", "frame.css"}
    for name, value in manifest.items():
        body = api.client.get(f"/elements/v1/{name}").content
        assert body == (STATIC / name).read_bytes()
        assert value == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def test_cardshield_js_is_cacheable_and_pinnable_cross_origin(api: Api) -> None:
    resp = api.client.get("/elements/v1/cardshield.js")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/javascript; charset=utf-8"
    assert resp.headers["cache-control"] == "public, max-age=31536000"
    # crossorigin="anonymous" + integrity needs CORS; a cross-site <script> needs CORP.
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in resp.headers
    etag = resp.headers["etag"]
    again = api.client.get("/elements/v1/cardshield.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_frame_assets_are_not_offered_to_other_sites(api: Api) -> None:
    for name, media in (
        ("cardrules.js", "text/javascript"),
        ("frame.js", "text/javascript"),
        ("frame.css", "text/css"),
    ):
        resp = api.client.get(f"/elements/v1/{name}")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith(media)
        assert "access-control-allow-origin" not in resp.headers
        assert resp.headers["cross-origin-resource-policy"] == "same-site"


def test_the_template_is_not_served_as_a_file(api: Api) -> None:
    for path in ("frame.html", "../../../routers/elements.py", "%2e%2e/sri.py"):
        assert api.client.get(f"/elements/v1/{path}").status_code == 404


@pytest.mark.parametrize("name", sorted(sri.ASSETS))
def test_assets_load_nothing_from_elsewhere(name: str) -> None:
    text = (STATIC / name).read_text()
    assert not re.search(r"(?i)\b(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+", text), name
    if name.endswith(".css"):
        assert not re.search(r"(?i)@import|url\(|image-set|@font-face", text)
    else:
        for banned in ("import(", "importScripts", "Worker(", "createElement('script"):
            assert banned not in text, banned
    for banned in ("eval(", "new Function", "innerHTML", "outerHTML", "document.write"):
        assert banned not in text, banned
    for banned in ("document.cookie", "localStorage", "sessionStorage", "indexedDB"):
        assert banned not in text, banned
    assert not re.search(r"postMessage\([^)]*['\"]\*['\"]", text), "wildcard target origin"


def test_messages_leave_only_for_the_checked_origins() -> None:
    frame_js = (STATIC / "frame.js").read_text()
    assert re.findall(r"postMessage\(([^)]*)\)", frame_js) == ["message, PARENT"]
    assert "event.origin !== PARENT || event.source !== window.parent" in frame_js
    sdk = (STATIC / "cardshield.js").read_text()
    assert re.findall(r"postMessage\(([^)]*)\)", sdk) == [
        "{ cardshield: 1, type: 'tokenize', id: id }, origin",
        "{ cardshield: 1, type: 'decline', code: shown }, origin",
    ]
    assert "event.origin !== origin || event.source !== iframe.contentWindow" in sdk


def test_frame_brand_table_mirrors_the_python_one() -> None:
    text = (STATIC / "cardrules.js").read_text()
    table = re.search(r"/\* iin-table \*/(.*?)/\* /iin-table \*/", text, re.S)
    assert table is not None
    js_rows = json.loads(table.group(1))
    py_rows = [[r.brand.value, r.low, r.high, sorted(r.lengths)] for r in IIN_TABLE]
    assert js_rows == py_rows


# ---- the middleware's opt-out -----------------------------------------------------------------


def test_omitting_default_headers_is_limited_to_security_headers() -> None:
    app = FastAPI()

    @app.get("/")
    def index() -> PlainTextResponse:
        return PlainTextResponse(
            "ok", headers={OMIT_DEFAULTS_HEADER: "X-Frame-Options, request-id, bogus"}
        )

    app.add_middleware(CardshieldMiddleware)
    resp = TestClient(app).get("/")
    assert "x-frame-options" not in resp.headers
    assert OMIT_DEFAULTS_HEADER not in resp.headers
    assert resp.headers["request-id"].startswith("req_")  # not a default it may drop
    assert resp.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
