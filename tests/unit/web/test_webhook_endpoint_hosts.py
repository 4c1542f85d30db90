"""A webhook host is checked as a connection would read it: an address spelled with
fullwidth digits or ideographic full stops is refused when the endpoint is added, with the
same error as the plain address."""

from __future__ import annotations

import pytest

from tests.apps import Api

# (spelled, plain): each spelling names the plain address once normalised (NFKC, U+3002,
# U+FF0E and U+FF61 as ".").
SPELLINGS = [
    ("https://127\u30020\u30020\u30021/hook", "https://127.0.0.1/hook"),
    ("https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook", "https://127.0.0.1/hook"),
    ("https://127\uff0e0\uff0e0\uff0e1/hook", "https://127.0.0.1/hook"),
    ("https://127\uff610\uff610\uff611/hook", "https://127.0.0.1/hook"),
    ("https://10\u30020\u30020\u30025/hook", "https://10.0.0.5/hook"),
    ("https://169\u3002254\u3002169\u3002254/latest", "https://169.254.169.254/latest"),
    (
        "https://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/",
        "https://2130706433/",
    ),
    ("https://0x7f\u30021/hook", "https://0x7f.1/hook"),
    ("http://127\u30020\u30020\u30021/", "http://127.0.0.1/"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "http://127.0.0.1/"),
]


def _add(api: Api, url: str) -> tuple[int, dict[str, object]]:
    resp = api.client.post("/v1/webhook_endpoints", json={"url": url}, headers=api.sk())
    return resp.status_code, resp.json()


@pytest.mark.parametrize(("spelled", "plain"), SPELLINGS)
def test_spelled_addresses_are_refused_like_the_plain_one(
    api: Api, spelled: str, plain: str
) -> None:
    plain_status, plain_body = _add(api, plain)
    assert plain_status == 400, plain_body
    status, body = _add(api, spelled)
    assert status == 400, body
    error, plain_error = body["error"], plain_body["error"]
    assert isinstance(error, dict) and isinstance(plain_error, dict)
    assert (error["code"], error["param"]) == (plain_error["code"], plain_error["param"])
    listed = api.client.get("/v1/webhook_endpoints", headers=api.sk()).json()
    assert listed["data"] == []


def test_a_public_unicode_name_is_still_accepted(api: Api) -> None:
    status, body = _add(api, "https://b\u00fccher\u3002example/hook")
    assert status == 200, body
