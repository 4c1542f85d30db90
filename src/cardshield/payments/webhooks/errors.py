"""Errors of merchant webhook endpoints, deliveries and replays.

::

    InvalidRequestError
    ├── WebhookUrlInvalid      400 url_invalid        not an absolute URL we can post to
    ├── WebhookUrlInsecure     400 url_insecure       not https:// (http only to loopback
    │                                                 when allowed), or an internal address
    ├── EventTypesInvalid      400 events_invalid     empty or malformed event types
    ├── EndpointNotFound       404 resource_missing
    ├── EndpointDisabled       409 endpoint_disabled
    ├── EventNotFound          404 resource_missing
    └── DeliveryNotFound       404 resource_missing
"""

from __future__ import annotations

from cardshield.errors import InvalidRequestError


class WebhookUrlInvalid(InvalidRequestError):
    code = "url_invalid"
    default_message = "The webhook URL is not a valid absolute URL."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, param="url")


class WebhookUrlInsecure(InvalidRequestError):
    code = "url_insecure"
    default_message = "Webhook URLs must use HTTPS and a public host."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, param="url")


class EventTypesInvalid(InvalidRequestError):
    code = "events_invalid"
    default_message = 'Give "*" or event types such as "payment.captured".'

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, param="enabled_events")


class EndpointNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such webhook endpoint."


class EndpointDisabled(InvalidRequestError):
    code = "endpoint_disabled"
    http_status = 409
    default_message = "This webhook endpoint is disabled."


class EventNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such event."


class DeliveryNotFound(InvalidRequestError):
    code = "resource_missing"
    http_status = 404
    default_message = "No such webhook delivery."
