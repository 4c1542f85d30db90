"""The report as JSON: the shape documented in docs/scope-report.md."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema of the report (``scope-report.schema.json`` beside this module)."""
    text = resources.files(__package__).joinpath("scope-report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
