"""Stripe connector (REST API over httpx); see :mod:`.connector` for calls and options."""

from __future__ import annotations

from cardshield.gateways.stripe.connector import API_VERSION, StripeConnector, build

__all__ = ["API_VERSION", "StripeConnector", "build"]
