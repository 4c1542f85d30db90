"""CSV: one finding per row, with a header row."""

from __future__ import annotations

import csv
import io

from cardshield.discovery.findings import ScanReport

FIELDS = ("path", "line", "brand", "masked", "kind", "severity", "test_card", "column")


def render(report: ScanReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for f in report.findings:
        writer.writerow(
            (f.path, f.line, f.brand, f.masked, f.kind, f.severity.value,
             "true" if f.test_card else "false", f.column or "")
        )  # fmt: skip
    return out.getvalue()
