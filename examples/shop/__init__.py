"""A small merchant shop that takes cards with cardshield's hosted fields.

It runs on its own origin, never sees a card number (the browser gives it a single-use
token) and stores only tokens, payment ids, amounts and statuses. ``create_shop(config)``
returns the FastAPI application; ``cardshield demo`` runs it beside the vault.
"""

from __future__ import annotations

from examples.shop.app import create_shop
from examples.shop.config import ShopConfig

__all__ = ["ShopConfig", "create_shop"]
