"""Bar charts drawn on the server as SVG: numbers in, markup out, no script and no CDN.

Everything in the SVG comes from integers and dates formatted here (plus a fixed CSS class),
so it is safe to embed as it is.
"""

from __future__ import annotations

from datetime import date

WIDTH = 420
HEIGHT = 160
_TOP = 16
_BOTTOM = 22
_LEFT = 28


def bar_chart(series: list[tuple[date, int]], *, css: str = "", label: str = "") -> str:
    """One bar per day; the tallest bar fills the height; every fourth day is labelled."""
    peak = max((n for _, n in series), default=0) or 1
    inner = HEIGHT - _TOP - _BOTTOM
    step = (WIDTH - _LEFT) / max(1, len(series))
    bar = max(2.0, step * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{_attr(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - _BOTTOM}"/>',
        f'<text x="0" y="{_TOP + 4}">{peak}</text>',
        f'<text x="0" y="{HEIGHT - _BOTTOM}">0</text>',
    ]
    for i, (day, count) in enumerate(series):
        height = inner * count / peak
        x = _LEFT + i * step + (step - bar) / 2
        y = HEIGHT - _BOTTOM - height
        parts.append(
            f'<rect class="bar {_attr(css)}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
            f'height="{height:.1f}"><title>{day.isoformat()}: {count}</title></rect>'
        )
        if i % 4 == 0 or i == len(series) - 1:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}">{day.strftime("%m-%d")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _attr(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in " -_:")
