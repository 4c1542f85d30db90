"""Errors of the forward proxy; each refusal has its own code, upstream failures are 5xx.

::

    InvalidRequestError
    ├── DestinationInvalid          400 destination_invalid         malformed URL or host
    ├── DestinationInsecure         400 destination_insecure        not https://
    ├── DestinationIpLiteral        400 destination_ip_literal      an address, not a name
    ├── DestinationNotAllowed       403 destination_not_allowed     not on the allow-list
    ├── DestinationPrivateAddress   403 destination_private_address resolves inside
    ├── TemplateInvalid             400 template_invalid            bad {{card.*}} use
    └── CvcUnavailable              400 cvc_unavailable             {{card.cvc}}, none held
    CardshieldError
    ├── DestinationUnresolvable     502 destination_unresolvable    DNS gave no address
    ├── UpstreamError               502 upstream_error              connect/TLS/protocol
    ├── UpstreamResponseTooLarge    502 upstream_response_too_large
    └── UpstreamTimeout             504 upstream_timeout

Messages are fixed or name only the field at fault: never a header value or body.
"""

from __future__ import annotations

from cardshield.errors import CardshieldError, InvalidRequestError


class DestinationInvalid(InvalidRequestError):
    code = "destination_invalid"
    default_message = "The destination URL is not valid."


class DestinationInsecure(InvalidRequestError):
    code = "destination_insecure"
    default_message = "Card data is forwarded over HTTPS only."


class DestinationIpLiteral(InvalidRequestError):
    code = "destination_ip_literal"
    default_message = "The destination must be a DNS name, not an IP address."


class DestinationNotAllowed(InvalidRequestError):
    code = "destination_not_allowed"
    http_status = 403
    default_message = "The destination host is not on this merchant's allow-list."


class DestinationPrivateAddress(InvalidRequestError):
    code = "destination_private_address"
    http_status = 403
    default_message = "The destination resolves to a private or reserved address."


class TemplateInvalid(InvalidRequestError):
    code = "template_invalid"
    default_message = "The request template is invalid."


class CvcUnavailable(InvalidRequestError):
    code = "cvc_unavailable"
    default_message = "The template uses {{card.cvc}} but no security code is held for it."


class DestinationUnresolvable(CardshieldError):
    code = "destination_unresolvable"
    http_status = 502
    default_message = "The destination host could not be resolved."


class UpstreamError(CardshieldError):
    code = "upstream_error"
    http_status = 502
    default_message = "The destination could not be reached or answered badly."


class UpstreamResponseTooLarge(UpstreamError):
    code = "upstream_response_too_large"
    default_message = "The destination's response is too large."


class UpstreamTimeout(CardshieldError):
    code = "upstream_timeout"
    http_status = 504
    default_message = "The destination did not answer in time."
