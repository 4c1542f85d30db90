"""A recording's waveform drawn on the server as SVG, with the redacted spans on it.

One channel per drawing: the min/max envelope of its samples over :data:`COLUMNS` columns
(one vertical stroke each, in one path), the time axis, and a rectangle over every cut with
a label (reason, basis, confidence). Cuts marked unsure carry the ``unsure`` class, which the
console's CSS draws differently (hatched outline, another colour), and say so in the label.

Everything in the SVG is numbers formatted here, fixed words, and the report's reason and
basis reduced to a short word of letters and digits, so it is safe to embed as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from cardshield.redaction.audio import Segment

COLUMNS = 360
WIDTH = 720
HEIGHT = 150
_LABELS = 30  # the band above the wave with the cut labels (two rows)
_AXIS = 16  # the band below it with the time labels
_TICK_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
_REASONS = ("dtmf", "speech")


def envelope(samples: NDArray[np.int16], columns: int = COLUMNS) -> NDArray[np.int32]:
    """(columns, 2): the lowest and highest sample of each column, over the whole signal.

    Fewer samples than columns give one column per sample; none give no columns.
    """
    x = np.asarray(samples, dtype=np.int32).reshape(-1)
    n = min(columns, len(x))
    if n == 0:
        return np.zeros((0, 2), dtype=np.int32)
    starts = (np.arange(n, dtype=np.int64) * len(x)) // n  # strictly increasing: n <= len(x)
    low = np.minimum.reduceat(x, starts)
    high = np.maximum.reduceat(x, starts)
    return np.stack([low, high], axis=1)


def _word(text: str, fallback: str = "") -> str:
    kept = "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch in "-_"))
    return kept[:16] or fallback


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _ticks(duration_s: float) -> list[float]:
    step = next((s for s in _TICK_STEPS_S if duration_s / s <= 8), _TICK_STEPS_S[-1])
    return [float(t) for t in range(0, int(duration_s) + 1, step)]


def cut_label(seg: Segment) -> str:
    """What a cut's label says: ``speech · pan · 0.84`` (and ``· unsure``)."""
    parts = [_word(seg.reason, "other"), _word(seg.basis), f"{seg.confidence:.2f}"]
    if seg.unsure:
        parts.append("unsure")
    return " · ".join(p for p in parts if p)


def waveform_svg(
    samples: NDArray[np.int16],
    sample_rate: int,
    cuts: Sequence[Segment],
    *,
    channel: int,
    peak: int = 32768,
) -> str:
    """The drawing of one channel; ``peak`` is the level that fills the height (pass the
    recording's loudest sample so the channels of one file share a scale)."""
    frames = int(np.asarray(samples).reshape(-1).shape[0])
    duration_s = frames / sample_rate if sample_rate > 0 else 0.0
    env = envelope(samples)
    top, bottom = _LABELS, HEIGHT - _AXIS
    mid, half = (top + bottom) / 2, (bottom - top) / 2
    scale = half / max(1, peak)
    column = WIDTH / max(1, len(env))
    where = f"channel {channel + 1}"
    parts = [
        f'<svg class="waveform" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Waveform of {where}, {len(cuts)} cut{"" if len(cuts) == 1 else "s"}" '
        f'data-channel="{channel}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect class="wave-bg" x="0" y="{top}" width="{WIDTH}" height="{bottom - top}"/>',
    ]
    ms_per_unit = (duration_s * 1000 / WIDTH) if duration_s > 0 else 1.0
    for i, seg in enumerate(sorted(cuts, key=lambda s: (s.start_ms, s.end_ms))):
        x0 = min(WIDTH, max(0.0, seg.start_ms / ms_per_unit))
        x1 = min(WIDTH, max(x0, seg.end_ms / ms_per_unit))
        width = max(1.0, x1 - x0)
        x0 = min(x0, WIDTH - width)
        reason = seg.reason if seg.reason in _REASONS else "other"
        unsure = " unsure" if seg.unsure else ""
        css = f"cut {reason}{unsure}"
        label = cut_label(seg)
        span = f"{seg.start_ms / 1000:.2f}-{seg.end_ms / 1000:.2f} s"
        row_y = 12 if i % 2 == 0 else 26  # two rows, so neighbouring labels do not collide
        parts.append(
            f'<g class="span"><rect class="{css}" x="{x0:.1f}" y="{top}" width="{width:.1f}" '
            f'height="{bottom - top}" data-start-ms="{seg.start_ms}" data-end-ms="{seg.end_ms}">'
            f"<title>{label}, {span}</title></rect>"
            f'<line class="cut-mark{unsure}" x1="{x0:.1f}" y1="{row_y + 2}" x2="{x0:.1f}" '
            f'y2="{top}"/><text class="cut-label{unsure}" x="{min(x0 + 2, WIDTH - 4):.1f}" '
            f'y="{row_y}">{label}</text></g>'
        )
    if len(env):
        strokes = []
        for i, (low, high) in enumerate(env):
            x = (i + 0.5) * column
            y_high = mid - int(high) * scale
            y_low = max(y_high + 0.5, mid - int(low) * scale)  # silence: a hairline
            strokes.append(f"M{x:.1f} {y_high:.1f}V{y_low:.1f}")
        parts.append(f'<path class="wave" d="{"".join(strokes)}"/>')
    else:
        parts.append(f'<text class="wave-empty" x="8" y="{mid:.0f}">no audio</text>')
    parts.append(f'<line class="axis" x1="0" y1="{bottom}" x2="{WIDTH}" y2="{bottom}"/>')
    for t in _ticks(duration_s) if duration_s > 0 else []:
        x = t / duration_s * WIDTH
        anchor = "end" if x > WIDTH - 30 else "start"
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 3}" text-anchor="{anchor}">'
            f"{_clock(t)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["COLUMNS", "cut_label", "envelope", "waveform_svg"]
