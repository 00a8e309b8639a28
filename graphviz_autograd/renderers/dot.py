"""`Graph` -> DOT text, and DOT -> SVG/PNG/PDF through the Graphviz `dot` program.

DOT is written in one pass with one quoting function (`dot_quoting.quote`). The pieces live
beside this writer: node statements and their caches (`dot_nodes`), module boxes
(`dot_clusters`), the legend (`dot_legend`), and running `dot` (`layout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, compress, repeat
from typing import Final, Literal

from ..errors import GradvizError
from ..model import Edge, Graph
from .dot_clusters import Clusters, clusters
from .dot_legend import legend_table
from .dot_nodes import NODE_DEFAULTS, Apart, node_runs
from .dot_quoting import dot_id, dot_ids, escape, quote
from .labels import FULL_ATTR_CHARS, edge_label
from .layout import IMAGE_FORMATS, ImageFormat, run_dot
from .marks import Mark, mark_statements
from .style import Shading, grad_shades

__all__ = [
    "EDGE_GRADS_UP_TO",
    "SAVED_EDGE_STYLE",
    "Labels",
    "to_dot",
    "to_image",
    "to_svg",
]

Labels = Literal["short", "attrs", "full"]
"""What a node's label shows beyond its title, shape and gradient (see `to_dot`)."""

SAVED_EDGE_STYLE: Final = 'style=dashed color="#d9a441" arrowhead=odot'
"""The DOT attributes of an edge from a saved tensor to the op that saved it."""

EDGE_GRADS_UP_TO: Final = 40
"""Captured graphs of at most this many nodes label each edge with the gradient that flowed
along it, unless told not to (``edge_grads=False``): on a bigger graph the labels crowd it."""


def to_dot(
    graph: Graph,
    *,
    rankdir: str = "TB",
    legend: bool = True,
    show_order: bool = False,
    attr_chars: int = 0,
    edge_grads: bool | None = None,
    scale: tuple[float, float] | None = None,
    labels: Labels = "short",
    marks: Sequence[Mark] | None = None,
) -> str:
    """DOT source for ``graph``: same graph, same bytes.

    Op nodes that carry a gradient (captured graphs) are shaded by its norm on a log scale;
    NaN/Inf gradients are red, and the first of them in backward order has a thick red border.

    Args:
        rankdir: ``TB`` (leaves on top, loss at the bottom) or ``LR``, ``BT``, ``RL``.
        legend: draw the colour legend for the roles present under the graph.
        show_order: prefix each label with the position (``#3``) in which backward ran it.
        attr_chars: list each op's non-tensor saved attributes (``show_attrs``) in its label,
            not only in its tooltip, each value cut to this many characters (0: tooltip only).
        edge_grads: label each edge with the gradient that flowed along it in the captured
            backward (`Edge.grad`: ``-1.5``, or ``‖·‖=2.3``) and, for a scalar, its local
            derivative (``(×0.5)``); None (default): for graphs of at most
            `EDGE_GRADS_UP_TO` nodes.
        scale: the (low, high) gradient norms the shading ramp spans, shared by several graphs
            (`style.shared_scale`); default: this graph's own range.
        labels: ``"attrs"`` lists each op's attributes (``show_attrs``) in its label, not
            only in its tooltip; ``"full"`` puts what a tooltip knows in the label, for PNG and
            PDF: a gradient's first values, the attributes and the source line.
        marks: findings about the graph (`marks.Mark`): the nodes each concerns are outlined
            in its severity's colour with its code beside them, and the legend lists them.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise GradvizError(f"rankdir must be TB, LR, BT or RL, not {rankdir!r}")
    shading = grad_shades(graph, scale, leaves=scale is not None)
    flows = _edge_grads_shown(graph, edge_grads) and any(e.grad for e in graph.edges)
    boxes = clusters(graph)
    # Rows, not records: a walked graph that was never read makes no Node or Edge records.
    ids, nodes = graph.rows()
    marked = (marks, ids) if marks else None
    out = [_header(graph, rankdir, legend, shading, flows, boxes, marked)]
    if boxes.names:  # parameters named relative to their module's box
        nodes = list(nodes)
        for i, name in boxes.names.items():
            nodes[i] = nodes[i]._replace(name=name)
    refs = ids if graph.numbered else dot_ids(ids)
    tips = ids if refs is ids else list(map(escape, ids))
    apart = _apart(graph, ids, shading.fills)
    full = labels == "full"
    if labels != "short" and not attr_chars:
        attr_chars = FULL_ATTR_CHARS
    out.extend(
        chain.from_iterable(node_runs(nodes, refs, tips, apart, show_order, attr_chars, full))
    )
    out.extend(f"{line}\n" for line in boxes.lines)
    out.extend(mark_statements(ids, marks or ()))
    out.extend(_edge_pieces(graph, ids, refs, flows))
    out.append("}\n")
    return "".join(out)


def _header(
    graph: Graph,
    rankdir: str,
    legend: bool,
    shading: Shading,
    flows: bool,
    boxes: Clusters,
    marked: tuple[Sequence[Mark], list[str]] | None = None,
) -> str:
    """The first lines of the DOT text, up to a blank line: the graph's attributes (with the
    legend, or else the notes, as its label), then the node and edge defaults. ``marked``:
    the marks and the ids of the nodes drawn, for the legend."""
    notes = quote("\n".join(graph.notes)) if graph.notes and not legend else ""
    table = legend_table(graph, shading, flows, marked) if legend else ""
    header = [
        "digraph gradviz {",
        f'  graph [rankdir={rankdir} fontname="Helvetica" fontsize=10 ranksep=0.35 nodesep=0.25'
        # One ranking for the whole graph: dot's default ranks each cluster on its own, which
        # can put an op above its input and stack the boxes of a model side by side.
        + (" newrank=true" if boxes.lines else "")
        + (" concentrate=true" if _fans_in(graph) else "")
        + (f" labelloc=b labeljust=l label=<{table}>" if legend else "")
        + (f" labelloc=b label={notes}" if notes else "")
        + "];",
        NODE_DEFAULTS,
        "  edge [arrowsize=0.6 penwidth=0.8];",
        "",
    ]
    return "\n".join(header)  # then pieces, each line ending in a newline


def _apart(graph: Graph, ids: list[str], shades: dict[str, str]) -> dict[int, Apart]:
    """Node index -> how it is drawn, for the nodes whose colour is not their kind's: the
    roots, the ops shaded by gradient (``shades``), the first NaN."""
    roots, bad = frozenset(graph.roots), graph.first_nonfinite
    marked = roots.union(shades, [bad] if bad is not None else [])
    if graph.numbered:  # node i is n{i}: no need to look through the ids
        at: Iterable[int] = sorted(int(node_id[1:]) for node_id in marked)
    else:
        at = compress(range(len(ids)), map(marked.__contains__, ids))
    return {i: Apart(ids[i] in roots, shades.get(ids[i]), ids[i] == bad) for i in at}


def _edge_pieces(graph: Graph, ids: list[str], refs: list[str], flows: bool) -> Iterable[str]:
    """The pieces of one line per edge, ``  n1 -> n0;``, to join with "": ``refs`` are the
    DOT IDs of the nodes ``ids``; with ``flows``, each edge is labelled with what flowed
    along it."""
    sources, targets, kinds = graph.edge_columns()
    if refs is not ids:
        ref = dict(zip(ids, refs, strict=True))
        sources = (ref.get(e) or dot_id(e) for e in sources)
        targets = (ref.get(e) or dot_id(e) for e in targets)
    ends: Iterable[str] = map(_EDGE_END.__getitem__, kinds)
    if flows:
        ends = map(_edge_end, graph.edges)
    pieces = zip(
        repeat("  "),
        sources,
        repeat(" -> "),
        targets,
        ends,
        strict=False,  # the repeats are endless
    )
    return chain.from_iterable(pieces)


_EDGE_END: Final = {"data": ";\n", "saved": f" [{SAVED_EDGE_STYLE}];\n"}
_EDGE_LABEL: Final = ' fontname="Helvetica" fontsize=9 fontcolor="#444444"'


def _edge_grads_shown(graph: Graph, edge_grads: bool | None) -> bool:
    if edge_grads is False or graph.numbered:  # a graph still in columns carries no flows
        return False
    return edge_grads is True or len(graph) <= EDGE_GRADS_UP_TO


def _edge_end(edge: Edge) -> str:
    """The end of an edge's line: its label, when a gradient flowed along it."""
    label = edge_label(edge.grad, edge.local)
    if not label:
        return _EDGE_END[edge.kind]
    return f" [label={quote(' ' + label)}{_EDGE_LABEL}];\n"


def _fans_in(graph: Graph) -> bool:
    """Whether some node of a graph small enough to lay out has `_FAN_IN` inputs or more
    (DenseNet's concatenations of every earlier feature map). Its edges are then drawn
    merged where they run side by side (``concentrate``): a bundle per source instead of a
    wall of parallel lines, and, with long edges bundled, a layout in seconds, not minutes
    (a DenseNet-121-sized graph of 488 nodes: 8 s instead of more than 100 s)."""
    return graph.edge_count <= _FAN_IN_CHECKED and graph.fans_in(_FAN_IN)


_FAN_IN: Final = 5
_FAN_IN_CHECKED: Final = 20_000
"""Graphs with more edges are folded before layout, or take minutes anyway: not checked."""


def to_svg(
    graph: Graph,
    *,
    rankdir: str = "TB",
    show_order: bool = False,
    timeout: float | None = None,
    edge_grads: bool | None = None,
) -> str:
    """A self-contained SVG of ``graph``; each node has a tooltip with its details."""
    source = to_dot(graph, rankdir=rankdir, show_order=show_order, edge_grads=edge_grads)
    return run_dot(source, "svg", timeout=timeout).decode()


def to_image(
    graph: Graph,
    fmt: ImageFormat,
    *,
    rankdir: str = "TB",
    show_order: bool = False,
    timeout: float | None = None,
    edge_grads: bool | None = None,
) -> bytes:
    """``graph`` as SVG, PNG or PDF bytes."""
    if fmt not in IMAGE_FORMATS:
        raise GradvizError(f"unknown image format {fmt!r}: use one of {', '.join(IMAGE_FORMATS)}")
    source = to_dot(graph, rankdir=rankdir, show_order=show_order, edge_grads=edge_grads)
    return run_dot(source, fmt, timeout=timeout)
