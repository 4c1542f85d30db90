"""The access log: one structured line per request, written without the logging pipeline's
passes, and still without card data."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from cardshield.redaction.logging import write_fields
from tests.apps import Api
from tests.conftest import CANARY_PAN, assert_no_card_data, logging_to


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    with logging_to(io.StringIO(), level="INFO") as stream:
        yield stream


def _access(stream: io.StringIO) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in stream.getvalue().splitlines()
        if json.loads(line).get("logger") == "cardshield.access"
    ]


def test_one_line_per_request_with_its_fields(api: Api, lines: io.StringIO) -> None:
    card = {"number": CANARY_PAN, "exp_month": 12, "exp_year": 2030}
    resp = api.client.post("/v1/tokens", json={"card": card}, headers=api.pk())
    assert resp.status_code == 200
    api.client.get("/healthz")
    first, second = _access(lines)
    assert first["event"] == "POST /v1/tokens 200" and first["level"] == "info"
    assert (first["method"], first["path"], first["route"], first["status"]) == (
        "POST",
        "/v1/tokens",
        "/v1/tokens",
        200,
    )
    assert first["request_id"] == resp.headers["request-id"]
    assert isinstance(first["duration_ms"], float) and str(first["timestamp"]).endswith("Z")
    assert (second["path"], second["status"]) == ("/healthz", 200)


def test_card_data_in_the_path_is_masked_and_the_query_is_not_logged(
    api: Api, lines: io.StringIO
) -> None:
    api.client.get(f"/v1/tokens/{CANARY_PAN}?number={CANARY_PAN}&cvc=123", headers=api.sk())
    api.client.get(f"/nowhere/{CANARY_PAN[:8]} {CANARY_PAN[8:]}")
    found = _access(lines)
    assert [a["status"] for a in found] == [404, 404]
    assert found[0]["path"] == "/v1/tokens/424242******4242" and found[0]["route"] == (
        "/v1/tokens/{token_id}"
    )
    assert found[1]["route"] == "unmatched"
    assert found[0]["event"] == "GET /v1/tokens/424242******4242 404"
    assert "number=" not in lines.getvalue()
    assert_no_card_data(lines.getvalue())


def test_oversize_bodies_are_logged_as_413(api: Api, lines: io.StringIO) -> None:
    resp = api.client.post(
        "/v1/tokens", content=b"x" * (70 * 1024), headers={**api.pk(), "content-type": "text/plain"}
    )
    assert resp.status_code == 413
    (line,) = _access(lines)
    assert line["status"] == 413 and line["request_id"] == resp.headers["request-id"]


def test_without_json_logging_it_is_an_ordinary_record() -> None:
    with logging_to(io.StringIO(), level="INFO", fmt="console") as console:
        write_fields("cardshield.access", "request", {"method": "GET", "path": "/healthz"})
    assert "request method=GET path=/healthz" in console.getvalue()
    assert not console.getvalue().lstrip().startswith("{")  # the console renderer's shape
