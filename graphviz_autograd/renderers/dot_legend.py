"""The legend under a DOT graph: an HTML-like table of the colours it uses, under its notes."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final

from ..model import Graph
from .labels import fmt_float
from .marks import Mark, mark_legend_rows
from .style import GRAD_RAMP, LEAF_RAMP, LEGEND, NONFINITE, Shading, roles_present

__all__ = ["legend_table"]

_LEAF_RAMP_SET: Final = frozenset(LEAF_RAMP)


def legend_table(
    graph: Graph,
    shading: Shading,
    flows: bool = False,
    marked: tuple[Sequence[Mark], list[str]] | None = None,
) -> str:
    """An HTML-like table of the roles in ``graph`` (fixed text), one per row, under
    ``graph.notes``; first, when ops are shaded by gradient, the ramp between the two norms
    its ends stand for; then, when edges are labelled with what flowed along them (``flows``),
    how to read those labels; last, with ``marked`` (marks, and the ids of the nodes drawn),
    one row per finding."""
    rows = []
    if shading.fills:
        rows.append(_ramp(shading))
    rows.extend(
        f'<tr><td bgcolor="{LEGEND[r].fill}" border="1" width="24"> </td>'
        f'<td align="left">{html.escape(LEGEND[r].meaning)}</td></tr>'
        for r in roles_present(graph)
    )
    if flows:
        local = any(e.local is not None for e in graph.edges)
        sample, meaning = ("g (×d)", "; d: the local derivative") if local else ("g", "")
        rows.append(
            f'<tr><td align="right"><font point-size="9">{sample}</font></td><td align="left">'
            f"edge: the gradient passed to the input{meaning}</td></tr>"
        )
    if marked is not None:
        rows.append(mark_legend_rows(*marked))
    table = f'<table border="0" cellspacing="2" cellpadding="1">{"".join(rows)}</table>'
    if not graph.notes:
        return table
    # The notes (what folding did) go above the legend, escaped: they are data.
    notes = "".join(f'<tr><td align="left">{html.escape(note)}</td></tr>' for note in graph.notes)
    legend = f'<tr><td align="left">{table}</td></tr>'
    return f'<table border="0" cellpadding="2">{notes}{legend}</table>'


def _ramp(shading: Shading) -> str:
    """The legend's rows for ops shaded by gradient: the ramp, between the norms its ends
    stand for, then what it means."""
    ramp = "".join(f'<td bgcolor="{c}" border="1" width="12"> </td>' for c in GRAD_RAMP)
    if shading.low is not None and shading.high is not None:
        ramp = f"<td>{fmt_float(shading.low)}</td>{ramp}<td>{fmt_float(shading.high)}</td>"
    if NONFINITE in shading.fills.values():
        ramp += f'<td> </td><td bgcolor="{NONFINITE}" border="1" width="12"> </td>'
        ramp += "<td>NaN/Inf</td>"
    leaf_shades = not _LEAF_RAMP_SET.isdisjoint(shading.fills.values())
    return (
        f'<tr><td colspan="2" align="left"><table border="0" cellspacing="1" cellpadding="1">'
        f"<tr>{ramp}</tr></table></td></tr>"
        '<tr><td colspan="2" align="left">op shaded by its gradient norm (log scale)'
        + ("; leaves in blue, on one scale for all calls" if leaf_shades else "")
        + "</td></tr>"
    )
