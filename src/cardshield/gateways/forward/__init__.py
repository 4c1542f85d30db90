"""The forward proxy: card data from the vault to a merchant-chosen, allow-listed HTTPS API.

:func:`forward` sends a :class:`ForwardRequest` whose body and header values may hold
``{{card.number}}``, ``{{card.exp_month}}``, ``{{card.exp_year}}`` and ``{{card.cvc}}``;
the caller gets a :class:`ForwardResponse` with every card number masked. Destinations are
managed with :func:`add_destination`, :func:`list_destinations`, :func:`remove_destination`.
"""

from __future__ import annotations

from cardshield.gateways.forward.destinations import (
    add_destination,
    list_destinations,
    remove_destination,
)
from cardshield.gateways.forward.proxy import (
    ForwardPolicy,
    ForwardRequest,
    ForwardResponse,
    forward,
)
from cardshield.gateways.forward.ssrf import Resolver, StaticResolver, SystemResolver

__all__ = [
    "ForwardPolicy",
    "ForwardRequest",
    "ForwardResponse",
    "Resolver",
    "StaticResolver",
    "SystemResolver",
    "add_destination",
    "forward",
    "list_destinations",
    "remove_destination",
]
