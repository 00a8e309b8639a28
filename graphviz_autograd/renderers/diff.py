"""A `Comparison` of two graphs -> JSON (``gradviz-diff`` version 1), a picture of graph B with the
changes coloured (DOT), or a report for the terminal (rich)."""

from __future__ import annotations

import html
import json
from typing import Any, Final, NamedTuple

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..model import Graph, Node, TensorStats
from ..text import count_of
from ..transform.diff import Change, Comparison, GradChange
from .dot import to_dot
from .dot_quoting import dot_id, quote
from .json import edge_dict, json_number, node_dict
from .labels import fmt_float, fmt_shape, grad_line, title

__all__ = ["DIFF_COLOURS", "change_lines", "to_diff_dot", "to_diff_json", "to_report"]

DIFF_COLOURS: Final = {
    "added": ("#8fd694", "added (in B only)"),
    "changed": ("#ffc857", "changed (shape, dtype, name)"),
    "grad": ("#fff0b3", "gradient changed"),
    "same": ("#f4f4f4", "unchanged"),
}
"""What a node of B is -> (fill colour, meaning), in the picture and its legend."""

REPORT_ROWS: Final = 40
"""The terminal report lists at most this many nodes of each kind (the JSON lists all)."""


def _ratio(change: GradChange) -> str:
    return "" if change.ratio is None else f" (×{fmt_float(change.ratio)})"


def _norm(stats: TensorStats | None) -> str:
    """A gradient in a few characters: its value when it has one, else its norm."""
    if stats is None:
        return "none"
    if stats.values is not None and len(stats.values) == 1:
        return fmt_float(stats.values[0])
    return f"‖·‖={fmt_float(stats.norm)}"


def change_lines(change: Change) -> list[str]:
    """One line per field that changed: ``shape (1, 8) → (8, 8)``, ``grad ‖·‖=2 → 6 (×3)``."""
    a, b = change.a, change.b
    lines = []
    if "name" in change.fields:
        lines.append(f"name {a.name or '-'} → {b.name or '-'}")
    if "shape" in change.fields:
        lines.append(f"shape {fmt_shape(a.shape)} → {fmt_shape(b.shape)}")
    if "dtype" in change.fields:
        lines.append(f"dtype {a.dtype or '?'} → {b.dtype or '?'}")
    grad = change.grad
    if grad is not None:
        text = f"grad {_norm(grad.a)} → {_norm(grad.b)}{_ratio(grad)}"
        if grad.a is not None and grad.b is not None and grad.a.norm == grad.b.norm:
            text = f"grad values {grad_line(grad.a)} → {grad_line(grad.b)}"
        lines.append(text)
        if grad.sign_flips and grad.b is not None:
            lines.append(f"{grad.sign_flips} of {len(grad.b.values or ())} signs flipped")
        if grad.nan_appeared:
            lines.append(f"NaN appeared ({grad.b.nan if grad.b else 0})")
        if grad.inf_appeared:
            lines.append(f"Inf appeared ({grad.b.inf if grad.b else 0})")
    return lines


def to_diff_json(comparison: Comparison) -> str:
    """JSON, format ``gradviz-diff`` version 1: added and removed nodes, changed pairs."""

    def changed(change: Change) -> dict[str, Any]:
        out = {
            "name": change.b.name if change.b.name is not None else change.a.name,
            "op": change.b.op,
            "a": node_dict(change.a),
            "b": node_dict(change.b),
            "fields": list(change.fields),
        }
        grad = change.grad
        if grad is not None:
            out["grad"] = {
                "ratio": None if grad.ratio is None else json_number(grad.ratio),
                "sign_flips": grad.sign_flips,
                "nan_appeared": grad.nan_appeared,
                "inf_appeared": grad.inf_appeared,
            }
        return out

    doc = {
        "format": "gradviz-diff",
        "version": 1,
        "added": [node_dict(n) for n in comparison.added],
        "removed": [node_dict(n) for n in comparison.removed],
        "changed": [changed(c) for c in comparison.changed],
        "same_structure": comparison.same_structure,
        "matched": len(comparison.matched),
        "a": _size(comparison.a),
        "b": _size(comparison.b),
        "edges_added": [edge_dict(e) for e in comparison.edges_added],
        "edges_removed": [edge_dict(e) for e in comparison.edges_removed],
    }
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def _size(graph: Graph) -> dict[str, int]:
    return {"nodes": len(graph), "edges": graph.edge_count}


def to_diff_dot(comparison: Comparison, *, rankdir: str = "TB", shown: Graph | None = None) -> str:
    """DOT of graph B (or ``shown``, B folded) with each node coloured by what changed, and the
    nodes of A that B lacks listed under it."""
    graph = comparison.b if shown is None else shown
    added = {n.id for n in comparison.added}
    changed = {c.b.id: c for c in comparison.changed}
    lines = []
    for node in graph.nodes:
        change = changed.get(node.id)
        if node.id in added:
            what = "added"
        elif change is None:
            what = "same"
        else:
            what = "grad" if change.fields == ("grad",) else "changed"
        attrs = f'fillcolor="{DIFF_COLOURS[what][0]}" fontcolor="black" style="rounded,filled"'
        if what == "same":
            attrs += ' fontcolor="#666666" color="#bbbbbb"'
        elif change is not None:
            label = "\n".join([title(node), *change_lines(change)])
            attrs += f" label={quote(label)} penwidth=2"
        lines.append(f"  {dot_id(node.id)} [{attrs}];\n")
    body = to_dot(graph, rankdir=rankdir, legend=False)
    legend = _diff_legend(comparison)
    return body[:-2] + "".join(lines) + f"  graph [labelloc=b labeljust=l label=<{legend}>];\n}}\n"


def _diff_legend(comparison: Comparison) -> str:
    """An HTML-like table: the colours, then the nodes only A has (they are not drawn)."""
    cells = "".join(
        f'<td bgcolor="{fill}" border="1"> </td><td align="left">{html.escape(meaning)}</td>'
        for fill, meaning in DIFF_COLOURS.values()
    )
    rows = [f'<tr><td align="left">{html.escape(_summary(comparison))}</td></tr>']
    removed = comparison.removed
    if removed:
        names = ", ".join(title(n) for n in removed[:REPORT_ROWS])
        more = f" and {len(removed) - REPORT_ROWS:,} more" if len(removed) > REPORT_ROWS else ""
        rows.append(
            f'<tr><td align="left">removed (in A only): {html.escape(names + more)}</td></tr>'
        )
    table = f'<table border="0" cellspacing="4" cellpadding="2"><tr>{cells}</tr></table>'
    return f'<table border="0" cellpadding="2">{"".join(rows)}<tr><td>{table}</td></tr></table>'


def _summary(comparison: Comparison) -> str:
    """``structure differs: 5 nodes added, 0 removed, 2 changed`` or ``same structure ...``."""
    c = comparison
    changed = f"{count_of(len(c.changed), 'node')} changed"
    if c.same_structure:
        size = f"{count_of(len(c.b), 'node')}, {count_of(c.b.edge_count, 'edge')}"
        return f"same structure ({size}); {changed}"
    rewired = len(c.edges_added) + len(c.edges_removed)
    return (
        f"structure differs: {count_of(len(c.added), 'node')} added, {len(c.removed):,} removed, "
        f"{len(c.changed):,} changed; {count_of(rewired, 'edge')} added or removed"
    )


class _ReportRow(NamedTuple):
    """A row of the report's table."""

    mark: str
    """``+`` added, ``-`` removed, ``~`` changed."""
    colour: str
    """The mark's colour."""
    node: Node
    """The node of A (removed) or of B (added, changed)."""
    lines: list[str]
    """What changed, one line per field (`change_lines`)."""


def to_report(comparison: Comparison, *, a: str = "A", b: str = "B") -> Group:
    """The terminal report: a summary line, then a table of added, removed and changed nodes
    (at most `REPORT_ROWS` of each), ids of A for removed nodes and of B for the rest."""
    c = comparison
    head = Text()
    head.append(f"{a}: {count_of(len(c.a), 'node')}, {count_of(c.a.edge_count, 'edge')}\n")
    head.append(f"{b}: {count_of(len(c.b), 'node')}, {count_of(c.b.edge_count, 'edge')}\n")
    head.append(_summary(c), style="bold green" if c.same_structure else "bold yellow")
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for column in ("", "node", "shape", "id", "change"):
        table.add_column(column, overflow="fold")
    rows: list[_ReportRow] = []
    rows.extend(_ReportRow("+", "green", n, []) for n in c.added[:REPORT_ROWS])
    rows.extend(_ReportRow("-", "red", n, []) for n in c.removed[:REPORT_ROWS])
    rows.extend(_ReportRow("~", "yellow", ch.b, change_lines(ch)) for ch in c.changed[:REPORT_ROWS])
    for row in rows:
        node = row.node
        shape = fmt_shape(node.shape) + (f" {node.dtype}" if node.dtype else "")
        mark = Text(row.mark, style=row.colour)
        table.add_row(mark, title(node), shape, node.id, "\n".join(row.lines))
    parts: list[Any] = [head]
    if rows:
        parts.append(table)
    cut = [
        f"{len(nodes) - REPORT_ROWS:,} more {what}"
        for nodes, what in ((c.added, "added"), (c.removed, "removed"), (c.changed, "changed"))
        if len(nodes) > REPORT_ROWS
    ]
    if cut:
        parts.append(Text(f"… and {', '.join(cut)} (see -o diff.json)", style="dim"))
    return Group(*parts)
