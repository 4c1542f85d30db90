"""HTML: one self-contained page for people and for the evidence folder. Inline CSS, an
inline SVG chart, no script and no external asset (a Content-Security-Policy says so too).

The page holds a summary, a stacked bar chart of open and closed findings per location (the
20 locations with most findings; the rest summed in one bar), the findings with their status
and mark, and the warnings. Names come from the scanned tree: every one is HTML-escaped with
its control characters written out (:func:`cardshield.safetext.terminal_text`), so a name
can neither add markup nor break the page, which stays well-formed XML.
"""

from __future__ import annotations

import html

from cardshield import __version__
from cardshield.discovery.findings import ScanReport
from cardshield.safetext import terminal_text

TOP_LOCATIONS = 20
_OPEN, _CLOSED = "#c62828", "#2e7d32"
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2330}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f4f8}
code{font-size:12px;word-break:break-all}.open{color:#c62828;font-weight:700}
.closed{color:#2e7d32}.note{color:#555}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'"


def _e(value: object) -> str:
    return html.escape(terminal_text("" if value is None else str(value)), quote=True)


def _table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">none</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(report: ScanReport) -> str:
    s = report.stats
    still_open = report.open_count()
    items = [
        ("findings", s.findings),
        ("open", still_open),
        ("closed", len(report.findings) - still_open),
        ("critical / high / low", f"{s.critical} / {s.high} / {s.low}"),
        ("files / members", f"{s.files} / {s.members}"),
        ("bytes", s.bytes),
        ("warnings", s.warnings),
        ("skipped / allowlisted / test cards ignored",
         f"{s.skipped} / {s.allowlisted} / {s.test_cards_ignored}"),
        ("seconds", f"{s.seconds:.2f}"),
    ]  # fmt: skip
    return _table(("item", "value"), [[_e(k), _e(v)] for k, v in items])


def _short(label: str, room: int = 44) -> str:
    return label if len(label) <= room else "\u2026" + label[1 - room :]


def location_chart(report: ScanReport, *, width: int = 900) -> str:
    """Open and closed findings per location as horizontal stacked bars, inline SVG."""
    rows = sorted(report.locations(), key=lambda r: (-(r["open"] + r["closed"]), r["path"]))
    bars: list[tuple[str, int, int]] = [
        (terminal_text(r["path"]), r["open"], r["closed"]) for r in rows[:TOP_LOCATIONS]
    ]
    rest = rows[TOP_LOCATIONS:]
    if rest:
        bars.append(
            (
                f"{len(rest)} other location(s)",
                sum(r["open"] for r in rest),
                sum(r["closed"] for r in rest),
            )
        )
    label_w, row_h, top = 330, 22, 28
    scale = (width - label_w - 70) / max([o + c for _, o, c in bars] or [1])
    height = top + row_h * max(len(bars), 1) + 8
    parts = [
        f'<rect x="{label_w}" y="6" width="12" height="12" fill="{_OPEN}"/>'
        f'<text x="{label_w + 16}" y="16" font-size="12">open</text>'
        f'<rect x="{label_w + 70}" y="6" width="12" height="12" fill="{_CLOSED}"/>'
        f'<text x="{label_w + 86}" y="16" font-size="12">closed</text>'
    ]
    if not bars:
        parts.append(f'<text x="0" y="{top + 15}" font-size="12">no findings</text>')
    for i, (label, n_open, n_closed) in enumerate(bars):
        y = top + i * row_h
        w_open, w_closed = n_open * scale, n_closed * scale
        parts.append(
            f"<g><title>{_e(label)}: {n_open} open, {n_closed} closed</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{_e(_short(label))}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w_open:.1f}" height="16" fill="{_OPEN}"/>'
            f'<rect x="{label_w + w_open:.1f}" y="{y + 3}" width="{w_closed:.1f}" height="16" '
            f'fill="{_CLOSED}"/>'
            f'<text x="{label_w + w_open + w_closed + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{n_open} / {n_closed}</text></g>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>Open and closed findings per location</title>'
        f"{''.join(parts)}</svg>"
    )


_FINDING_HEADERS = (
    "status", "severity", "brand", "masked", "kind", "location", "id", "mark"
)  # fmt: skip


def _findings(report: ScanReport) -> str:
    rows = []
    for f in report.findings:
        where = f"{f.path}:{f.line}" + (f" [{f.column}]" if f.column else "")
        mark = f.mark
        note = "" if mark is None else f"{mark.reason} ({mark.by}, {mark.at})"
        rows.append(
            [
                f'<span class="{"closed" if f.closed else "open"}">{_e(f.status.value)}</span>',
                _e(f.severity.value + (" (test card)" if f.test_card else "")),
                _e(f.brand),
                f"<code>{_e(f.masked)}</code>",
                _e(f.kind),
                f"<code>{_e(where)}</code>",
                f"<code>{_e(f.id)}</code>",
                _e(note),
            ]
        )
    return _table(_FINDING_HEADERS, rows)


def render(report: ScanReport) -> str:
    warnings = _table(
        ("location", "warning"),
        [[f"<code>{_e(w.path)}</code>", _e(w.message)] for w in report.warnings],
    )
    body = [
        "<h1>Card data scan</h1>",
        f'<p class="note">cardshield {_e(__version__)}; numbers are masked (first six and '
        "last four digits at most). Closed: false positive, test data or remediated.</p>",
        "<h2>Summary</h2>",
        _summary(report),
        "<h2>Open and closed by location</h2>",
        location_chart(report),
        "<h2>Findings</h2>",
        _findings(report),
        "<h2>Warnings</h2>",
        warnings,
    ]
    return (
        '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head>'
        f'<meta charset="utf-8"/><meta http-equiv="Content-Security-Policy" content="{_CSP}"/>'
        "<title>cardshield scan report</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
