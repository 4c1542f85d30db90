"""A plain table for people: one finding per line (with its status and id, for marks), then
warnings and a summary that counts open and closed findings. Names come from the scanned
tree, so their control characters are written out, never sent to the terminal (see
:mod:`cardshield.safetext`)."""

from __future__ import annotations

from cardshield.discovery.findings import ScanReport
from cardshield.safetext import terminal_text

_HEADERS = ("SEVERITY", "BRAND", "MASKED", "KIND", "STATUS", "ID", "LOCATION")


def render(report: ScanReport) -> str:
    rows = [
        (
            f.severity.value + (" (test card)" if f.test_card else ""),
            f.brand,
            f.masked,
            f.kind,
            f.status.value,
            f.id,
            terminal_text(f"{f.path}:{f.line}" + (f" [{f.column}]" if f.column else "")),
        )
        for f in report.findings
    ]
    lines: list[str] = []
    if rows:
        widths = [max(len(r[i]) for r in [*rows, _HEADERS]) for i in range(len(_HEADERS) - 1)]
        for row in [_HEADERS, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("  ".join([*cells, row[-1]]))
    for w in report.warnings:
        lines.append(terminal_text(f"warning: {w.path}: {w.message}"))
    s = report.stats
    still_open = report.open_count()
    lines.append(
        f"{s.findings} finding(s) ({s.critical} critical, {s.high} high, {s.low} low; "
        f"{still_open} open, {len(report.findings) - still_open} closed) in "
        f"{s.files} file(s), {s.members} member(s), {s.bytes} bytes, {s.seconds:.2f} s; "
        f"{s.warnings} warning(s), {s.skipped} skipped, {s.allowlisted} allowlisted"
    )
    return "\n".join(lines) + "\n"
