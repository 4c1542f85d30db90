"""Pieces the resource routers share: the idempotency header, list envelopes, clean bodies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel, ConfigDict

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retries with the same key return the first result (24 h).",
    ),
]


class Body(BaseModel):
    """Request bodies: unknown fields and wrong types are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ListOut(BaseModel):
    object: str = "list"
    url: str
    has_more: bool
    data: list[dict[str, Any]]


def list_out(url: str, items: Iterable[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": has_more, "data": list(items)}
