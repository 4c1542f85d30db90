"""What the shop needs to know about cardshield: where it is, the keys, the webhook secret."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ShopConfig:
    """``api_url`` is where the shop's server calls cardshield; ``browser_url`` is the origin
    shoppers' browsers load the hosted fields from (the same in the demo, often not behind a
    proxy). Keys and the webhook secret are kept out of ``repr``."""

    api_url: str
    secret_key: str = field(repr=False)
    publishable_key: str
    webhook_secret: str = field(repr=False)
    database: Path
    browser_url: str = ""
    currency: str = "eur"
    # The SRI hash of cardshield.js; read once from /elements/v1/sri.json when not given.
    script_integrity: str | None = None
    # For tests: the HTTP client the shop's server uses to reach cardshield.
    http_client: httpx.Client | None = field(default=None, repr=False, compare=False)

    @property
    def cardshield_origin(self) -> str:
        return (self.browser_url or self.api_url).rstrip("/")
