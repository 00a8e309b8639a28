"""`Graph` -> one self-contained HTML page to explore it: the explorer.

The page holds the data, the layout library and its own code; it makes no request and needs no
Graphviz installed: Graphviz compiled to WebAssembly (``static/viz-global.js``, vendored by
``scripts/vendor.py``) lays it out in the page, from DOT written the way `dot.to_dot` writes it.

What goes in, as JSON inside ``<script type="application/json">``:

- every node of the full graph (up to `UNFOLD_UP_TO` nodes; past that, of the folded graph
  only), each pointing to a shared description: `json.node_dict` without the id, plus its DOT
  label and attributes;
- the edges, as node indices;
- the folding the caller gives (`fitting.fold_for`: to the same budget as a picture): which node
  of the folded graph stands for each node of the full graph, so that the page opens folded and
  unfolds ×N nodes; never a node of another module (`explorer_folds.within_modules`): the page
  folds modules itself, and runs of identical ones (`explorer_folds.module_runs`) as one node;
- what the page needs to give folded things their figures: the gradient shading's scale
  (`style.grad_shades`) and each node's saved bytes, when recorded;
- findings about the graph, when given (`marks.Mark`): the page outlines their nodes, lists the
  findings beside the graph and, in a node's details, those that concern it.

Names are data: the JSON escapes ``<``, ``>``, ``&`` and U+2028/9, inlined scripts have
``</script`` escaped, and the page builds its DOM with ``textContent`` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..model import Graph, Node
from ..transform.fold.adjacency import name_key
from .dot import SAVED_EDGE_STYLE, to_dot
from .dot_nodes import FIRST_BAD_STYLE, NODE_STYLE
from .dot_quoting import quote
from .explorer_folds import by_module, module_runs, run_dicts, saved_of, shading_dict
from .json import node_dict
from .labels import fmt_float, heading, label_rest
from .marks import Mark, mark_dicts
from .page import explorer_page, json_in_html, script_safe
from .style import (
    DARK_SHADES,
    GRAD_RAMP,
    LEGEND,
    NONFINITE,
    Role,
    Shading,
    grad_shades,
    role,
    roles_present,
)

__all__ = ["UNFOLD_UP_TO", "fold_map", "json_in_html", "page_data", "script_safe", "to_html"]

UNFOLD_UP_TO: Final = 50_000
"""Graphs with at most this many nodes go into the page whole, so that ×N nodes unfold there;
bigger ones go in folded only (a node's data takes about 150 bytes of the page)."""

_SHARED_PARTS: Final = ("grad", "grads", "source", "saved", "attrs", "look")


def fold_map(full: Graph, folded: Graph) -> list[int]:
    """For each node of ``full``, the index (in ``full``) of the node of ``folded`` standing for it.

    `fold.fold` keeps some nodes, with counts, and drops the rest; this finds which kept node
    each dropped node was folded into. Nodes are taken consumers first, so a dropped node's
    consumers already have their kept node. A dropped node goes, in this order of preference, to
    the kept input of its consumer's kept node at the same slot, to that kept node itself (a
    run of one op), or to any kept input of it (identical branches), when it is alike and that
    kept node still has room (its count, less the nodes given to it so far); else to the first
    alike kept node with room (blocks in series), else to its consumer's kept node.
    """
    ids = list(full.column("id"))
    index = {node_id: i for i, node_id in enumerate(ids)}
    nodes = full.nodes
    rep = [-1] * len(ids)
    room: dict[int, int] = {}
    for node in folded.nodes:
        k = index[node.id]
        rep[k] = k
        room[k] = node.count - nodes[k].count
    if len(room) == len(ids):
        return rep
    alike = [(n.kind, n.op, n.shape, n.dtype, n.is_leaf, name_key(n)) for n in nodes]
    kept_inputs: dict[int, list[tuple[str, int | None, int]]] = {}
    for edge in folded.edges:
        kept_inputs.setdefault(index[edge.dst], []).append((edge.kind, edge.slot, index[edge.src]))
    outs: list[list[tuple[int, int | None, str]]] = [[] for _ in ids]
    waiting = [0] * len(ids)
    for edge in full.edges:
        s = index[edge.src]
        outs[s].append((index[edge.dst], edge.slot, edge.kind))
        waiting[s] += 1
    by_alike: dict[tuple[Any, ...], list[int]] = {}
    for k in sorted(room):
        if room[k] > 0:
            by_alike.setdefault(alike[k], []).append(k)
    inputs: list[list[int]] = [[] for _ in ids]
    for s, targets in enumerate(outs):
        for d, _, _ in targets:
            inputs[d].append(s)
    order = [v for v in range(len(ids)) if not waiting[v]]
    for v in order:  # grows while iterating: consumers before their inputs
        if rep[v] < 0:
            rep[v] = _place(v, outs[v], rep, room, alike, nodes[v].count, kept_inputs, by_alike)
        for u in inputs[v]:
            waiting[u] -= 1
            if not waiting[u]:
                order.append(u)
    return [r if r >= 0 else i for i, r in enumerate(rep)]


def _place(
    v: int,
    outs: list[tuple[int, int | None, str]],
    rep: list[int],
    room: dict[int, int],
    alike: list[tuple[Any, ...]],
    count: int,
    kept_inputs: dict[int, list[tuple[str, int | None, int]]],
    by_alike: dict[tuple[Any, ...], list[int]],
) -> int:
    """The kept node that dropped node ``v`` was folded into (see `fold_map`)."""

    def fits(k: int, loose: bool = False) -> bool:
        same = alike[k][:2] == alike[v][:2] if loose else alike[k] == alike[v]
        return same and room.get(k, 0) >= count

    candidates: list[tuple[int, bool]] = []
    for d, slot, kind in outs:
        w = rep[d]
        ins = kept_inputs.get(w, ())
        candidates += [(k, False) for e_kind, e_slot, k in ins if (e_kind, e_slot) == (kind, slot)]
        candidates.append((w, True))
        candidates += [(k, False) for e_kind, _, k in ins if e_kind == kind]
    chosen = next((k for k, loose in candidates if fits(k, loose)), -1)
    if chosen < 0:
        chosen = next((k for k in by_alike.get(alike[v], ()) if fits(k)), -1)
    if chosen < 0:
        return rep[outs[0][0]] if outs else -1
    room[chosen] -= count
    return chosen


def _look(node: Node, role: Role, fill: str | None, first_bad: bool, show_order: bool) -> list[str]:
    """DOT pieces of a node's statement, escaped: label head (without ×N), the label's other
    lines, and the attributes after the label, as `dot.to_dot` draws the node; then the label
    head as plain text, for the details panel."""
    head = heading(node.kind, node.op, node.name, 1)
    if show_order and node.order is not None:
        head = f"#{node.order} {head}"
    rest = label_rest(node, first_bad)
    fill = fill or LEGEND[role].fill
    attrs = f'fillcolor="{fill}"{NODE_STYLE[role]}'
    if fill in DARK_SHADES:
        attrs += ' fontcolor="white"'
    if first_bad:
        attrs += " " + FIRST_BAD_STYLE
    return [quote(head)[1:-1], quote(rest)[1:-1], attrs, head]


def page_data(
    graph: Graph,
    *,
    folded: Graph,
    rankdir: str = "TB",
    show_order: bool = False,
    marks: Sequence[Mark] | None = None,
) -> dict[str, Any]:
    """What the page reads: the graph, its folding (``folded``: ``fold.fold(graph)`` to the
    budget the page opens with; ``graph`` itself for none), how to draw it, and the findings
    about it (``marks``; None: none were looked for)."""
    full = graph if len(graph) <= UNFOLD_UP_TO else folded
    rep = fold_map(full, folded) if full is not folded else list(range(len(full)))
    rep, notes = by_module(graph, folded, rep) if full is graph else (rep, list(folded.notes))
    nodes = full.nodes
    ids = [node.id for node in nodes]
    index = {node_id: i for i, node_id in enumerate(ids)}
    roots = frozenset(full.roots)
    shading = grad_shades(full)
    shades = shading.fills
    bad = full.first_nonfinite
    # Nodes share their descriptions, and the parts of them (a gradient, a call site, a
    # label) that recur: the 10k-leaf graph's page is 2.1 MB with them shared, 9.5 MB without.
    # Nodes alike but for their id, order and count are described once.
    parts: dict[str, int] = {}
    infos: dict[str, int] = {}
    described: dict[tuple[Any, ...], int] = {}
    info_of: list[int] = []
    orders: list[int | None] = []

    def share(table: dict[str, int], value: Any) -> int:
        return table.setdefault(json.dumps(value, sort_keys=True, allow_nan=False), len(table))

    for node in nodes:
        node_role = role(roots, node)
        orders.append(node.order)
        alike = node._replace(id="", count=1, order=node.order if show_order else None)
        key = (alike, node_role, shades.get(node.id), node.id == bad)
        found = described.get(key)
        if found is None:
            about = node_dict(alike, saved_lists=full.saved_bytes is not None)
            for field in ("id", "count", "order"):
                about.pop(field, None)
            about["look"] = _look(alike, *key[1:], show_order)
            for part in _SHARED_PARTS:
                if about.get(part) is not None:
                    about[part] = share(parts, about[part])
            found = described[key] = share(infos, about)
        info_of.append(found)
    folded_count = {index[node.id]: node.count for node in folded.nodes}
    # The header of `to_dot`'s output (graph, node and edge defaults), from an empty graph.
    header = to_dot(Graph((), (), ()), rankdir=rankdir, legend=False).rsplit("}", 1)[0]
    return {
        "format": "gradviz-explorer",
        "version": 1,
        "dot_header": header,
        "saved_edge": SAVED_EDGE_STYLE,
        "ids": ids,
        "info": [json.loads(text) for text in infos],
        "info_of": info_of,
        "parts": [json.loads(text) for text in parts],
        "shared_parts": list(_SHARED_PARTS),
        "order": orders,
        "count": [node.count for node in nodes],
        "edges": _flat((index[e.src], index[e.dst], int(e.kind == "saved")) for e in full.edges),
        "roots": [index[r] for r in full.roots if r in index],
        "first_nonfinite": bad,
        "saved_bytes": full.saved_bytes,
        "rep": rep,
        "folded_count": [folded_count.get(i, 0) for i in range(len(ids))],
        "folded_edges": _flat((index[e.src], index[e.dst]) for e in folded.edges),
        "notes": notes,
        "legend": _legend(full, shading),
        "shading": shading_dict(shading),
        "saved_of": None if full.saved_bytes is None else [saved_of(node) for node in nodes],
        "runs": run_dicts(module_runs(full)),
        "whole": full is graph,
        "total_nodes": len(graph),
        "findings": None if marks is None else mark_dicts(marks, index),
    }


def _legend(graph: Graph, shading: Shading) -> list[list[Any]]:
    """The colour legend of the pictures (`dot._legend`): [colours, meaning] per entry; the
    gradient ramp's meaning gives the norms its ends stand for."""
    entries: list[list[Any]] = []
    if shading.fills:
        meaning = "op shaded by its gradient norm (log scale)"
        if shading.low is not None and shading.high is not None:
            meaning += f": {fmt_float(shading.low)} … {fmt_float(shading.high)}"
        entries.append([list(GRAD_RAMP), meaning])
        if NONFINITE in shading.fills.values():
            entries.append([[NONFINITE], "NaN/Inf"])
    entries += [[[LEGEND[r].fill], LEGEND[r].meaning] for r in roles_present(graph)]
    return entries


def _flat(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]


def to_html(
    graph: Graph,
    *,
    folded: Graph,
    rankdir: str = "TB",
    show_order: bool = False,
    title: str | None = None,
    marks: Sequence[Mark] | None = None,
    steps: Mapping[str, Any] | None = None,
) -> str:
    """The explorer page for ``graph``: opens as ``folded`` (``fold.fold(graph)``, to the
    budget a picture would be folded to; ``graph`` itself for none) and unfolds in the page.
    With ``marks`` (findings, even none), the page is a report: it lists them beside the graph.
    With ``steps`` (`steps.steps_data`), it steps through a whole run's calls."""
    data = page_data(graph, folded=folded, rankdir=rankdir, show_order=show_order, marks=marks)
    data["steps"] = steps
    if steps is not None:  # the page's legend gives the run's one scale, per step
        data["legend"] = [e for e in data["legend"] if e[0] not in (list(GRAD_RAMP), [NONFINITE])]
    if title is None:
        title = "gradviz explorer" if marks is None else "gradviz doctor"
    return explorer_page(title, data)
