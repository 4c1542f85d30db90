"""``/v1/events``: what happened, in the same shape webhooks deliver."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cardshield.errors import InvalidRequestError
from cardshield.payments.outbox import get_event, list_events
from cardshield.security.apikeys import ApiKeyInfo
from cardshield.web.deps import RuntimeDep, SecretKey
from cardshield.web.routers._common import list_out
from cardshield.web.routers._schemas import ERRORS, EventList, EventOut, ok

router = APIRouter(prefix="/v1/events", tags=["events"], responses=ERRORS)
Read = Annotated[ApiKeyInfo, SecretKey("payments:read")]


class EventNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such event."


@router.get("", response_model=None, responses=ok(EventList), summary="List events, newest first")
def list_events_route(
    key: Read,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        items, more = list_events(
            conn, key.merchant_id, limit=limit, starting_after=starting_after, type=type
        )
    return list_out("/v1/events", items, more)


@router.get("/{event_id}", response_model=None, responses=ok(EventOut), summary="Retrieve an event")
def retrieve_event(event_id: str, key: Read, runtime: RuntimeDep) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        event = get_event(conn, key.merchant_id, event_id)
    if event is None:
        raise EventNotFound(param="id")
    return event
