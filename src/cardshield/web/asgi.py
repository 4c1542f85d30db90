"""ASGI entry point for servers that import an app factory (uvicorn workers)."""

from __future__ import annotations

from fastapi import FastAPI

from cardshield.config import load_settings
from cardshield.redaction.logging import configure_logging
from cardshield.runtime import open_runtime
from cardshield.web.app import create_app
from cardshield.web.background import default_jobs


def create() -> FastAPI:
    """Build the app from the environment (CARDSHIELD_*), as ``cardshield serve`` does."""
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    runtime = open_runtime(settings)
    return create_app(runtime, jobs=default_jobs(runtime))
