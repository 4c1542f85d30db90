"""The baseline: a bare FastAPI app answering the hot path's requests, nothing else.

``POST /v1/tokens`` parses the same JSON body a tokenization carries and answers a body of
the size a token has; ``GET /healthz`` answers as cardshield's does. No database, no
middleware, no logging: what the web stack costs by itself.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI


def create() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/tokens")
    async def tokens(body: dict[str, Any]) -> dict[str, Any]:
        card = body["card"]
        return {
            "id": "tok_" + secrets.token_urlsafe(16),
            "object": "token",
            "type": "card",
            "single_use": True,
            "used": False,
            "card": {
                "brand": "visa",
                "bin": card["number"][:6],
                "last4": card["number"][-4:],
                "exp_month": card["exp_month"],
                "exp_year": card["exp_year"],
            },
            "created": 1796731200,
            "expires": 1796732100,
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
