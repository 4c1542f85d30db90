"""Square: Payments/Refunds API connector (payment tokens and cards on file, no raw cards),
status and error-code maps, HMAC-verified webhooks.

See :mod:`.connector` for why raw card data is refused and for the calls and options.
"""

from __future__ import annotations

from cardshield.gateways.square.connector import SquareConnector, UnsupportedByConnector, build
from cardshield.gateways.square.transformers import SourceAuthorizeRequest

__all__ = ["SourceAuthorizeRequest", "SquareConnector", "UnsupportedByConnector", "build"]
