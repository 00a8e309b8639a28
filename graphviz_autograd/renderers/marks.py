"""Findings drawn on a graph: `Mark`, the plain record a renderer is given for each finding (the
renderers never see the doctor), and how the DOT writer and the explorer draw marks: each node a
finding concerns outlined in its severity's colour, with the finding's code beside it, and one
line per finding in the legend.

``api.finding_marks`` makes marks from the doctor's findings and the graph drawn.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

from ..model import Source
from .dot_quoting import dot_id, quote

__all__ = [
    "MARK_COLOURS",
    "Mark",
    "mark_dicts",
    "mark_legend_rows",
    "mark_statements",
    "marks_by_node",
    "outline",
]

MARK_COLOURS: Final = {"error": "#d00000", "warning": "#f08c00", "info": "#1c7ed6"}
"""Severity -> the colour of the outline of the nodes a finding of it concerns."""

_RANK: Final = {"error": 0, "warning": 1, "info": 2}
_PENWIDTH: Final = 3
_LEGEND_WIDTH: Final = 72


class Mark(NamedTuple):
    """A finding about a graph, as a renderer draws it."""

    code: str
    """``unused-param``, ``nonfinite-grad``, ... (see docs/doctor.md)."""
    severity: str
    """``error``, ``warning`` or ``info``: the outline's colour (`MARK_COLOURS`)."""
    message: str
    """What is wrong, one sentence."""
    hint: str
    """The fix."""
    nodes: tuple[str, ...] = ()
    """The ids of the nodes of the graph it concerns; may be none (an unused parameter is in no
    graph)."""
    source: Source | None = None
    """The line of the script it is about."""
    colour: str | None = None
    """The outline's colour when not its severity's: a comparison's marks (added, removed,
    changed) have their own."""


def marks_by_node(marks: Iterable[Mark]) -> dict[str, list[Mark]]:
    """Node id -> the marks that concern it, the most severe first (then in the given order)."""
    found: dict[str, list[Mark]] = {}
    for mark in marks:
        for node_id in dict.fromkeys(mark.nodes):
            found.setdefault(node_id, []).append(mark)
    for here in found.values():
        here.sort(key=lambda m: _RANK.get(m.severity, len(_RANK)))
    return found


def _colour(mark: Mark) -> str:
    """The outline colour of a mark: its own, else its severity's (`MARK_COLOURS`), an unknown
    one as info's."""
    return mark.colour or MARK_COLOURS.get(mark.severity, MARK_COLOURS["info"])


def outline(here: Sequence[Mark]) -> str:
    """The DOT attributes of a node that the marks ``here`` concern (the most severe first):
    outlined in the colour of the first, their codes beside it."""
    colour = _colour(here[0])
    codes = ", ".join(dict.fromkeys(m.code for m in here))
    return f'color="{colour}" penwidth={_PENWIDTH} xlabel={quote(codes)}'


def mark_statements(ids: Iterable[str], marks: Sequence[Mark]) -> list[str]:
    """One DOT statement for each node of ``ids`` (the nodes drawn, in their order) that
    ``marks`` concern, to follow the node statements: it adds the outline to the node's
    attributes. Nodes not drawn (folded away) get none: a statement would add them."""
    if not marks:
        return []
    found = marks_by_node(marks)
    return [f"  {dot_id(i)} [{outline(found[i])}];\n" for i in ids if i in found]


def _where(source: Source | None) -> str:
    """``train.py:12``: the file's name and the line."""
    if source is None:
        return ""
    return f"{source.file.replace(chr(92), '/').rsplit('/', 1)[-1]}:{source.line}"


def mark_legend_rows(marks: Sequence[Mark], drawn: Iterable[str]) -> str:
    """HTML-like table rows for the legend: one per mark, its severity's colour, its code and
    line and message; a mark none of whose nodes is drawn (``drawn``: the ids drawn) says so."""
    shown = frozenset(drawn)
    rows = []
    for mark in marks:
        colour = _colour(mark)
        where = _where(mark.source)
        head = f"{mark.severity} {mark.code}" + (f" at {where}" if where else "")
        missing = "" if shown.intersection(mark.nodes) else " (no node drawn)"
        # Lines of a legend's width: a long one would stretch the gradient ramp above it.
        lines = textwrap.wrap(f"{mark.message}{missing}", _LEGEND_WIDTH) or [""]
        text = "".join(f'{html.escape(line)}<br align="left"/>' for line in lines)
        rows.append(
            f'<tr><td valign="top"><table border="0" cellpadding="0"><tr><td border="{_PENWIDTH}"'
            f' color="{colour}" width="24" height="12" fixedsize="true"> </td></tr></table></td>'
            f'<td align="left" balign="left"><b>{html.escape(head)}</b><br align="left"/>'
            f"{text}</td></tr>"
        )
    return "".join(rows)


def mark_dicts(marks: Sequence[Mark], index: dict[str, int]) -> list[dict[str, Any]]:
    """The marks as the explorer reads them: each with its nodes as indices in ``index``
    (node id -> index), nodes not in it left out."""
    return [
        {
            "code": m.code,
            "severity": m.severity,
            "colour": _colour(m),
            "message": m.message,
            "hint": m.hint,
            "where": _where(m.source) or None,
            "line": None if m.source is None else m.source.code,
            "nodes": [index[i] for i in dict.fromkeys(m.nodes) if i in index],
        }
        for m in marks
    ]
