"""The asyncio client: ``await AsyncCardshield(sk).payments.create(...)``."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from cardshield.client import _specs as s
from cardshield.client._base import DEFAULT_BASE_URL, ClientConfig, connection_error
from cardshield.client.models import Event, ListPage, Payment, PaymentMethod, Refund, Token

M = TypeVar("M", bound=BaseModel)


class AsyncCardshield:
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = ClientConfig(api_key, base_url, timeout, max_retries)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.payments = Payments(self)
        self.refunds = Refunds(self)
        self.payment_methods = PaymentMethods(self)
        self.verifications = Verifications(self)
        self.tokens = Tokens(self)
        self.events = Events(self)

    async def run(self, spec: s.Spec[M]) -> M:
        request, _ = self._config.build(spec)
        attempt = 0
        while True:
            try:
                response: httpx.Response | None = await self._http.send(request)
            except httpx.HTTPError as exc:
                if not self._config.should_retry(attempt, None):
                    raise connection_error(exc) from None
                response = None
            if response is not None and not self._config.should_retry(attempt, response):
                return self._config.parse(response, spec)
            await asyncio.sleep(self._config.retry_delay(attempt, response))
            attempt += 1

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCardshield:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncCardshield({self._config!r})"


class _Resource:
    def __init__(self, client: AsyncCardshield) -> None:
        self._c = client


class Payments(_Resource):
    async def create(self, **kwargs: Any) -> Payment:
        """amount, currency, token | payment_method, capture_method, description, metadata,
        return_url, idempotency_key."""
        return await self._c.run(s.payment_create(**kwargs))

    async def retrieve(self, payment_id: str) -> Payment:
        return await self._c.run(s.payment_retrieve(payment_id))

    async def list(self, **kwargs: Any) -> ListPage[Payment]:
        return await self._c.run(s.payment_list(**kwargs))

    async def capture(self, payment_id: str, **kwargs: Any) -> Payment:
        return await self._c.run(s.payment_action(payment_id, "capture", **kwargs))

    async def void(self, payment_id: str, **kwargs: Any) -> Payment:
        return await self._c.run(s.payment_action(payment_id, "void", **kwargs))

    async def confirm(self, payment_id: str, **kwargs: Any) -> Payment:
        return await self._c.run(s.payment_action(payment_id, "confirm", **kwargs))


class Refunds(_Resource):
    async def create(self, **kwargs: Any) -> Refund:
        return await self._c.run(s.refund_create(**kwargs))

    async def retrieve(self, refund_id: str) -> Refund:
        return await self._c.run(s.refund_retrieve(refund_id))


class PaymentMethods(_Resource):
    async def create(self, **kwargs: Any) -> PaymentMethod:
        return await self._c.run(s.payment_method_create(**kwargs))

    async def retrieve(self, pm_id: str) -> PaymentMethod:
        return await self._c.run(s.payment_method_retrieve(pm_id))

    async def delete(self, pm_id: str) -> PaymentMethod:
        return await self._c.run(s.payment_method_delete(pm_id))


class Verifications(_Resource):
    async def create(self, **kwargs: Any) -> Payment:
        return await self._c.run(s.verification_create(**kwargs))


class Tokens(_Resource):
    async def retrieve(self, token_id: str) -> Token:
        return await self._c.run(s.token_retrieve(token_id))


class Events(_Resource):
    async def retrieve(self, event_id: str) -> Event:
        return await self._c.run(s.event_retrieve(event_id))

    async def list(self, **kwargs: Any) -> ListPage[Event]:
        return await self._c.run(s.event_list(**kwargs))


__all__ = ["AsyncCardshield"]
