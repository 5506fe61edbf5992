"""Small SVG line charts for markdown artifacts, built by hand (no plotting dependency).

The Prefect UI renders a markdown artifact's images, and a `data:` URL keeps the picture inside
the artifact: it needs no image host and survives the W&B server being out of reach later.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence

# Colour-blind-safe pair first (blue, orange), then more.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
WIDTH, HEIGHT = 560, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 30, 40

Series = Sequence[tuple[float, float]]


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * i / count for i in range(count + 1)]


def _label(value: float, whole: bool = False) -> str:
    return str(round(value)) if whole else f"{value:.3g}"


def line_chart_svg(series: Mapping[str, Series], *, title: str, x_label: str = "step") -> str:
    """An SVG picture of each named series (points (x, y)) as a line, with axes and a legend.
    Non-finite points are dropped; a chart with no point says so."""
    clean = {
        name: [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
        for name, points in series.items()
    }
    points = [p for pts in clean.values() for p in pts]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13">'
        f"{html.escape(title)}</text>",
    ]
    if not points:
        out.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text></svg>'
        )
        return "".join(out)
    whole_x = all(float(p[0]).is_integer() for p in points)  # steps: label them as integers
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return _TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>'
    )
    for y in _ticks(y0, y1):
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            'stroke="#eee"/>'
            f'<text x="{_LEFT - 4}" y="{sy(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        )
    for x in _ticks(x0, x1):
        out.append(
            f'<text x="{sx(x):.1f}" y="{_TOP + plot_h + 14}" text-anchor="middle">'
            f"{_label(x, whole_x)}</text>"
        )
    out.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{html.escape(x_label)}</text>"
    )
    for index, (name, pts) in enumerate(clean.items()):
        colour = PALETTE[index % len(PALETTE)]
        if pts:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        legend_y = _TOP + 14 + 16 * index
        out.append(
            f'<line x1="{_LEFT + plot_w - 150}" x2="{_LEFT + plot_w - 130}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_LEFT + plot_w - 125}" y="{legend_y}">{html.escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def svg_data_url(svg: str) -> str:
    """The SVG as a `data:` URL, for a markdown image."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


__all__ = ["line_chart_svg", "svg_data_url"]
