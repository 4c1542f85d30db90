"""Adyen: Checkout API connector (raw card data), result/refusal maps, standard webhooks.

See :mod:`.connector` for the calls and options, :mod:`.transformers` for the formats and
maps, :mod:`.webhooks` for the HMAC scheme and the ``[accepted]`` answer.
"""

from __future__ import annotations

from cardshield.gateways.adyen.connector import AdyenConnector, build
from cardshield.gateways.adyen.webhooks import ACCEPTED

__all__ = ["ACCEPTED", "AdyenConnector", "build"]
