"""JSON: ``{"findings": [{"path", "line", "brand", "masked", ...}], "warnings", "stats"}``."""

from __future__ import annotations

import json

from cardshield.discovery.findings import ScanReport


def render(report: ScanReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
