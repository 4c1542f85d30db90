"""What the sync and async clients share: request building, retry policy, answers."""

from __future__ import annotations

import random
import uuid
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from cardshield import __version__
from cardshield.client._specs import Spec
from cardshield.client.errors import APIConnectionError, CardshieldClientError, error_from_response

M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "http://127.0.0.1:8750"
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


class ClientConfig:
    def __init__(self, api_key: str, base_url: str, timeout: float, max_retries: int) -> None:
        if not api_key.startswith("sk_"):
            # A publishable key belongs in the browser; the server client needs a secret key.
            raise ValueError("the cardshield client needs a secret key (sk_...)")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={self.base_url!r}, api_key='sk_***')"

    def build(self, spec: Spec[Any]) -> tuple[httpx.Request, str | None]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"cardshield-python/{__version__}",
            "Accept": "application/json",
        }
        key = spec.idempotency_key
        if spec.method == "POST":
            # Every POST carries a key, so a retry after a lost answer is always safe.
            key = key or str(uuid.uuid4())
            headers["Idempotency-Key"] = key
        request = httpx.Request(
            spec.method,
            self.base_url + spec.path,
            params=dict(spec.params),
            json=dict(spec.body) if spec.body is not None else None,
            headers=headers,
        )
        return request, key

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.replace(".", "", 1).isdigit():
                return min(float(after), 30.0)
        return min(8.0, 0.5 * (1 << attempt)) * (0.5 + random.random() / 2)  # noqa: S311

    def should_retry(self, attempt: int, response: httpx.Response | None) -> bool:
        if attempt >= self.max_retries:
            return False
        if response is None:
            return True  # connection error: the POST's idempotency key makes a retry safe
        if response.status_code == 409:
            # Only "still in progress" is worth waiting for; a reused key never succeeds.
            return _error_code(response) == "idempotency_key_in_use"
        return response.status_code in RETRY_STATUSES

    @staticmethod
    def parse(response: httpx.Response, spec: Spec[M]) -> M:
        request_id = response.headers.get("request-id")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise error_from_response(response.status_code, body, request_id)
        if not isinstance(body, dict):
            raise CardshieldClientError(
                "the API answered with something that is not JSON",
                status=response.status_code,
                request_id=request_id,
            )
        return spec.model.model_validate(body)


def _error_code(response: httpx.Response) -> str | None:
    try:
        code = response.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def connection_error(exc: httpx.HTTPError) -> APIConnectionError:
    return APIConnectionError(f"could not reach cardshield: {type(exc).__name__}")
