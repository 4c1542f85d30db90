"""CSV: one finding per row, with a header row. Every cell is quoted and a name that would
start a spreadsheet formula is prefixed with ``'`` (see :mod:`cardshield.safetext`)."""

from __future__ import annotations

from cardshield.discovery.findings import ScanReport
from cardshield.safetext import csv_text

FIELDS = (
    "path", "line", "brand", "masked", "kind", "severity", "test_card", "column", "id", "status"
)  # fmt: skip


def render(report: ScanReport) -> str:
    return csv_text(
        FIELDS,
        (
            (f.path, f.line, f.brand, f.masked, f.kind, f.severity.value,
             "true" if f.test_card else "false", f.column or "", f.id, f.status.value)
            for f in report.findings
        ),
    )  # fmt: skip
