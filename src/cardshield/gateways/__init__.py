"""Gateway connectors: one folder per processor, all behind :class:`~.base.Connector`.

``get_connector(name, options)`` builds one by name; adding a processor is one folder and
one line in ``_CONNECTORS``. Modules load on first use, so an SDK is imported only when
its connector is configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from cardshield.errors import ConfigError
from cardshield.gateways.base import (
    AuthorizeRequest,
    Connector,
    FollowUpRequest,
    GatewayError,
    GatewayResult,
    GatewayStatus,
    GatewayTimeout,
    InboundEvent,
    Money,
    WebhookSignatureError,
)

# name -> module with ``build(options: Mapping[str, Any]) -> Connector``
_CONNECTORS: dict[str, str] = {
    "sandbox": "cardshield.gateways.sandbox.connector",
    "stripe": "cardshield.gateways.stripe.connector",
    "braintree": "cardshield.gateways.braintree.connector",
    "adyen": "cardshield.gateways.adyen.connector",
    "square": "cardshield.gateways.square.connector",
}


def get_connector(name: str, options: Mapping[str, Any] | None = None) -> Connector:
    module_name = _CONNECTORS.get(name)
    if module_name is None:
        raise ConfigError(f"unknown connector {name!r}: use one of {', '.join(_CONNECTORS)}")
    module = importlib.import_module(module_name)
    connector: Connector = module.build(options or {})
    return connector


__all__ = [
    "AuthorizeRequest",
    "Connector",
    "FollowUpRequest",
    "GatewayError",
    "GatewayResult",
    "GatewayStatus",
    "GatewayTimeout",
    "InboundEvent",
    "Money",
    "WebhookSignatureError",
    "get_connector",
]
