"""Braintree connector (official SDK over httpx); see :mod:`.connector` for calls and options."""

from __future__ import annotations

from cardshield.gateways.braintree.connector import BraintreeConnector, build

__all__ = ["BraintreeConnector", "build"]
