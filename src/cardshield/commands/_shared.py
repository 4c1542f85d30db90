"""Helpers shared by command groups: settings, the runtime, the clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer

from cardshield.config import Settings, load_settings
from cardshield.runtime import Runtime, open_runtime


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    return load_settings(obj.get("config"))


@contextmanager
def runtime(ctx: typer.Context) -> Iterator[Runtime]:
    rt = open_runtime(settings(ctx))
    try:
        yield rt
    finally:
        rt.close()


def utcnow() -> datetime:
    return datetime.now(UTC)
