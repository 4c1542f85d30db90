"""The shared processor HTTP client: when it retries, how long it waits, what it raises."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from cardshield.gateways import GatewayError, GatewayTimeout
from cardshield.gateways.http import (
    ProcessorAuthError,
    ProcessorClient,
    ProcessorOutcomeUnknown,
    ProcessorRateLimited,
    RetryPolicy,
    TransportFailure,
    status_error,
)
from tests.conftest import CANARY_PAN

BASE = "https://processor.example"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> ProcessorClient:
    return ProcessorClient(
        BASE,
        policy=RetryPolicy(retries=2, base_delay_s=1.0, max_delay_s=1.5, max_retry_after_s=5.0),
        sleep=sleeps.append,
        rand=lambda: 1.0,  # the top of each jitter window, so delays are exact
    )


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(3, lambda: 0.25) == 0.75
    assert policy.delay(3, lambda: 0.0) == 0.0


def test_idempotent_requests_retry_5xx_with_backoff(
    client: ProcessorClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.get("/things/1").mock(
        side_effect=[httpx.Response(503), httpx.Response(502), httpx.Response(200, json={})]
    )
    assert client.request("GET", "/things/1", idempotent=True).status_code == 200
    assert route.call_count == 3
    assert sleeps == [1.0, 1.5]


def test_non_idempotent_requests_are_not_retried_after_sending(
    client: ProcessorClient, api: respx.MockRouter
) -> None:
    route = api.post("/charges").mock(return_value=httpx.Response(500))
    assert client.request("POST", "/charges", idempotent=False).status_code == 500
    assert route.call_count == 1

    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(GatewayTimeout):
        client.request("POST", "/charges", idempotent=False)
    assert route.call_count == 2

    route.mock(side_effect=httpx.RemoteProtocolError("dropped"))
    with pytest.raises(ProcessorOutcomeUnknown):
        client.request("POST", "/charges", idempotent=False)
    assert route.call_count == 3


def test_requests_that_never_left_are_retried_even_when_not_idempotent(
    client: ProcessorClient, api: respx.MockRouter
) -> None:
    route = api.post("/charges").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={})]
    )
    assert client.request("POST", "/charges", idempotent=False).status_code == 201
    assert route.call_count == 2


def test_unreachable_after_all_retries_is_not_a_timeout(
    client: ProcessorClient, api: respx.MockRouter
) -> None:
    api.post("/charges").mock(side_effect=httpx.ConnectTimeout("no route"))
    with pytest.raises(GatewayError) as info:
        client.request("POST", "/charges", idempotent=False)
    assert not isinstance(info.value, GatewayTimeout)
    assert isinstance(info.value.__cause__, TransportFailure)
    assert "ConnectTimeout" in str(info.value.__cause__)


def test_retry_after_is_honoured_up_to_its_cap(
    client: ProcessorClient, api: respx.MockRouter, sleeps: list[float]
) -> None:
    api.get("/things/1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(429, headers={"Retry-After": "120"}),
            httpx.Response(200),
        ]
    )
    client.request("GET", "/things/1", idempotent=True)
    assert sleeps == [3.0, 5.0]


def test_retry_hint_overrides_the_status_rule(api: respx.MockRouter, sleeps: list[float]) -> None:
    def hint(response: httpx.Response) -> bool | None:
        value = response.headers.get("Should-Retry")
        return None if value is None else value == "yes"

    client = ProcessorClient(BASE, retry_hint=hint, sleep=sleeps.append, rand=lambda: 0.0)
    route = api.get("/x").mock(
        side_effect=[httpx.Response(400, headers={"Should-Retry": "yes"}), httpx.Response(200)]
    )
    assert client.request("GET", "/x", idempotent=True).status_code == 200
    route.mock(return_value=httpx.Response(503, headers={"Should-Retry": "no"}))
    assert client.request("GET", "/x", idempotent=True).status_code == 503
    assert route.call_count == 3


@pytest.mark.parametrize(
    ("status", "mutating", "expected"),
    [
        (401, True, ProcessorAuthError),
        (403, False, ProcessorAuthError),
        (429, True, ProcessorRateLimited),
        (500, True, ProcessorOutcomeUnknown),
        (503, False, GatewayError),
        (409, True, ProcessorOutcomeUnknown),
        (400, True, type(None)),
        (404, False, type(None)),
    ],
)
def test_status_errors(status: int, mutating: bool, expected: type) -> None:
    error = status_error(status, mutating=mutating)
    assert type(error) is expected


def test_status_error_detail_is_redacted() -> None:
    error = status_error(401, mutating=True, detail=f"bad key for card {CANARY_PAN}")
    assert error is not None and CANARY_PAN not in str(error) and "bad key" in str(error)
