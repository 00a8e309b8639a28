"""A run's gradient flow as an SVG line chart for docs (`to_svg`): every row's norm over the
steps on a log scale, written as text (no plotting library).

The y axis has a tick at each power of ten the norms span; a row's line breaks where it had no
gradient, a zero norm sits on the bottom edge, and a step whose gradient was not finite is a
red mark on the top edge. Up to `LABELLED` rows each get a colour and a label at the right
end of their line; past that, the `LABELLED` // 2 highest and lowest at their last step do,
and the others are thin grey lines. Every line has its name as a tooltip (``<title>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Final, NamedTuple

from ..text import count_of
from ..transform.flow import Flow, FlowRow
from .flow import Scale, flow_scale, per_param

__all__ = ["LABELLED", "to_svg"]

WIDTH: Final = 760
HEIGHT: Final = 400
LEFT, RIGHT, TOP, BOTTOM = 64, 210, 40, 50
"""Margins: the y axis' labels on the left, the rows' labels on the right."""
LABELLED: Final = 10
PALETTE: Final = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#393b79", "#bcbd22", "#17becf",
)  # fmt: skip
UNLABELLED: Final = "#c8c8c8"
NONFINITE: Final = "#d62728"
NAME_CHARS: Final = 30
"""A row label longer than this keeps its end (``…h.11.mlp.c_proj``)."""
LINE_HEIGHT: Final = 12


class _Axes(NamedTuple):
    """Where values and steps go: decades ``low``..``high`` (powers of ten) and ``steps`` steps."""

    low: int
    high: int
    steps: int

    def x(self, step: int) -> float:
        inner = WIDTH - LEFT - RIGHT
        return LEFT + (inner / 2 if self.steps < 2 else inner * step / (self.steps - 1))

    def y(self, value: float) -> float:
        inner = HEIGHT - TOP - BOTTOM
        if value <= 0:
            return TOP + inner
        if math.isinf(value):
            return TOP
        return TOP + inner * (1 - (math.log10(value) - self.low) / (self.high - self.low))


def _axes(scale: Scale | None, count: int) -> _Axes:
    if scale is None:
        return _Axes(-1, 0, count)
    low, high = math.floor(math.log10(scale.low)), math.ceil(math.log10(scale.high))
    return _Axes(low, max(high, low + 1), count)


def _power(k: int) -> str:
    return f'10<tspan dy="-6" font-size="9">{k}</tspan>'


def _frame(axes: _Axes, steps: Sequence[str]) -> list[str]:
    """The plot's box, its ticks (powers of ten; a few steps by name) and axis titles."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = [
        f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" '
        'fill="none" stroke="#888"/>'
    ]
    every = max(1, math.ceil((axes.high - axes.low) / 10))
    for k in range(axes.low, axes.high + 1, every):
        y = axes.y(10.0**k)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_power(k)}</text>')
    count = len(steps)
    ticks = sorted({round(j * (count - 1) / 5) for j in range(6)}) if count > 1 else [0] * count
    for s in ticks:
        x = axes.x(s)
        out.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#888"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(steps[s])}</text>'
        )
    middle = (TOP + bottom) / 2
    out.append(
        f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
        "backward call</text>"
    )
    out.append(
        f'<text x="14" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle:.1f})">gradient norm</text>'
    )
    return out


def _line(row: FlowRow, axes: _Axes, colour: str, width: float) -> list[str]:
    """``row`` as a path broken where it had no gradient, and a mark per non-finite step."""
    parts, marks, pen = [], [], "M"
    for s, value in enumerate(row.norms):
        if math.isnan(value) or math.isinf(value):
            pen = "M"
            if math.isinf(value):
                marks.append(f'<circle cx="{axes.x(s):.1f}" cy="{TOP}" r="3" fill="{NONFINITE}"/>')
            continue
        parts.append(f"{pen}{axes.x(s):.1f},{axes.y(value):.1f}")
        pen = "L"
    title = f"<title>{escape(row.name)}</title>"
    path = (
        f'<path d="{" ".join(parts)}" fill="none" stroke="{colour}" stroke-width="{width}" '
        'stroke-linejoin="round"/>'
        if parts
        else ""
    )
    return [f"<g>{title}{path}{''.join(marks)}</g>"]


def _last(row: FlowRow) -> float | None:
    """The norm of ``row`` at the last step it had a finite one."""
    return next((v for v in reversed(row.norms) if math.isfinite(v)), None)


def _labelled(rows: Sequence[FlowRow]) -> list[int]:
    """The rows that get a colour and a label: all, or the highest and lowest at their end."""
    if len(rows) <= LABELLED:
        return list(range(len(rows)))
    ends = sorted(
        (k for k in range(len(rows)) if _last(rows[k]) is not None),
        key=lambda k: (_last(rows[k]), k),
    )
    half = LABELLED // 2
    return sorted(set(ends[:half]) | set(ends[-half:]))


def _labels(rows: Sequence[FlowRow], chosen: list[int], axes: _Axes) -> list[str]:
    """A label per chosen row at the height of its line's end, pushed apart not to overlap."""
    wanted = sorted(
        ((axes.y(_last(rows[k]) or 0.0), k) for k in chosen if _last(rows[k]) is not None),
    )
    placed: list[tuple[float, int]] = []
    for y, k in wanted:
        y = max(y, TOP + 4, placed[-1][0] + LINE_HEIGHT if placed else y)
        placed.append((y, k))
    overflow = placed[-1][0] - (HEIGHT - BOTTOM) if placed else 0
    if overflow > 0:  # pushed below the box: move all up as far as the top allows
        placed = [(y - overflow, k) for y, k in placed]
    out = []
    x = WIDTH - RIGHT + 8
    for y, k in placed:
        name = rows[k].name
        shown = name if len(name) <= NAME_CHARS else "…" + name[-(NAME_CHARS - 1) :]
        colour = PALETTE[chosen.index(k) % len(PALETTE)]
        out.append(
            f'<text x="{x}" y="{y + 4:.1f}" fill="{colour}">{escape(shown)}'
            f"<title>{escape(name)}</title></text>"
        )
    return out


def to_svg(flow: Flow) -> str:
    """``flow`` as an SVG document (see the module's docstring); the same text for the same
    flow."""
    rows = flow.rows
    axes = _axes(flow_scale(rows), len(flow.steps))
    chosen = _labelled(rows)
    body = _frame(axes, flow.steps)
    for k, row in enumerate(rows):  # grey lines first: the labelled ones are drawn over them
        if k not in chosen:
            body += _line(row, axes, UNLABELLED, 1)
    for n, k in enumerate(chosen):
        body += _line(rows[k], axes, PALETTE[n % len(PALETTE)], 1.6)
    body += _labels(rows, chosen, axes)
    title = f"Gradient norm per {'parameter' if per_param(rows) else 'layer'}, " + count_of(
        len(flow.steps), "backward call"
    )
    if len(rows) > len(chosen):
        title += f" ({len(rows) - len(chosen)} more rows in grey)"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">\n'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>\n'
        f'<text x="{LEFT}" y="22" font-size="13">{escape(title)}</text>\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )
