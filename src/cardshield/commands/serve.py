"""``cardshield serve``: the vault and API service."""

from __future__ import annotations

import os
from typing import Any

import typer
import uvicorn

from cardshield.commands._shared import settings
from cardshield.errors import ConfigError
from cardshield.runtime import open_runtime

app = typer.Typer(help="Run the HTTP API.", invoke_without_command=True)

# How uvicorn runs the API; bench/ serves its bare baseline app with the same options, so the
# two are compared on one footing.
UVICORN_OPTIONS: dict[str, Any] = {
    "factory": True,
    "loop": "uvloop",
    "http": "httptools",
    "log_config": None,  # keep our redacting logging set-up
    "access_log": False,  # the API writes its own, cheaper line (cardshield.web.middleware)
    "timeout_graceful_shutdown": 10,
    "server_header": False,
}


@app.callback()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Listen address (default CARDSHIELD_HOST)."),
    port: int | None = typer.Option(None, help="Listen port (default CARDSHIELD_PORT)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes."),
) -> None:
    """Serve the API. Checks database, schema, KMS and volatile store first."""
    s = settings(ctx)
    if workers > 1 and not s.redis_url:
        # Each worker is its own process: a CVC kept in one worker's memory would be missing
        # in the one that charges it, and every worker would count rate limits on its own.
        raise ConfigError(
            "--workers above 1 needs CARDSHIELD_REDIS_URL: the workers must share the CVC"
            " store and the rate limits"
        )
    open_runtime(s).close()  # refuse to start with one clear line if anything is missing
    config = (ctx.find_root().obj or {}).get("config")
    if config is not None:
        os.environ["CARDSHIELD_CONFIG"] = str(config)  # the workers read settings themselves
    uvicorn.run(
        "cardshield.web.asgi:create",
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        **UVICORN_OPTIONS,
    )
