"""The colour legend shared by every renderer: one role per node, one colour per role."""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import compress
from typing import Final, Literal, NamedTuple

from ..model import Graph, Node

__all__ = [
    "GRAD_RAMP",
    "LEAF_RAMP",
    "LEGEND",
    "Entry",
    "NONFINITE",
    "Role",
    "Shading",
    "grad_shades",
    "role",
    "roles_present",
    "shared_scale",
]

Role = Literal["output", "leaf", "input", "op", "saved"]


class Entry(NamedTuple):
    """How one role looks in every legend."""

    fill: str
    """Fill colour of its nodes, ``#rrggbb``."""
    meaning: str
    """What the legend says of it."""


LEGEND: Final[dict[Role, Entry]] = {
    "output": Entry("#b7e4b0", "output (a root the walk started from)"),
    "leaf": Entry("#a9cdf5", "leaf that requires grad (gets .grad)"),
    "input": Entry("#ffffff", "input that needs no grad"),
    "op": Entry("#dddddd", "op (backward function)"),
    "saved": Entry("#ffd59e", "tensor saved for backward"),
}
"""role -> its `Entry`. Order is the order legends list them in."""


def role(graph_roots: frozenset[str], node: Node) -> Role:
    """The legend role of ``node``: roots are outputs whatever their kind."""
    return "output" if node.id in graph_roots else node.kind


def roles_present(graph: Graph) -> list[Role]:
    """Legend roles that occur in ``graph``, in legend order."""
    kinds = list(graph.column("kind"))
    present: set[str] = set(kinds)  # in C: graphs can have 10^6 nodes, and a few roots
    if graph.roots:
        ids = graph.column("id")
        ids = ids if isinstance(ids, list) else list(ids)
        # A root is an output whatever its kind; its kind is present if another node has it.
        root_kinds: dict[str, int] = {}
        for root in set(graph.roots):
            try:
                kind = kinds[ids.index(root)]  # the walk puts roots first
            except ValueError:  # not a node of this graph
                continue
            root_kinds[kind] = root_kinds.get(kind, 0) + 1
        for kind, count in root_kinds.items():
            if kinds.count(kind) == count:  # every node of this kind is a root
                present.discard(kind)
        if root_kinds:
            present.add("output")
    return [r for r in LEGEND if r in present]


GRAD_RAMP: Final = ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f")
"""Fill colours of op nodes by gradient norm, small to large on a log scale."""
LEAF_RAMP: Final = ("#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c")
"""Fill colours of leaves by gradient norm on the same scale, when calls share one (see
`shared_scale`): accumulated ``.grad`` g, 2g, 3g get darker."""
DARK_SHADES: Final = frozenset(GRAD_RAMP[-2:] + LEAF_RAMP[-2:])
"""Shades dark enough to need white text."""
NONFINITE: Final = "#ff6b6b"
"""Fill colour of a node whose gradient has NaN or Inf entries."""


class Shading(NamedTuple):
    """How op nodes are shaded by their gradient norm."""

    fills: dict[str, str]
    """Op node id -> fill colour."""
    low: float | None
    """The smallest finite positive norm shaded: the palest shade of the ramp stands for it."""
    high: float | None
    """The largest: the darkest shade stands for it (None, None: no op has such a norm)."""


def grad_shades(
    graph: Graph, scale: tuple[float, float] | None = None, *, leaves: bool = False
) -> Shading:
    """Op node id -> fill colour by its gradient norm, log-scaled over the graph's range (or
    over ``scale``, (low, high), shared by several graphs: see `shared_scale`), and that range.
    With ``leaves``, leaves are shaded too, on the same scale, in `LEAF_RAMP`.

    Roots are left out: they keep the output colour.

    Empty when no op carries a gradient (a graph walked outside `capture`). NaN/Inf gradients
    get `NONFINITE`; a zero norm the palest shade.
    """
    norms: dict[str, float] = {}
    shades: dict[str, str] = {}
    in_blue: set[str] = set()
    if not any(graph.column("grad")):  # one pass in C
        return Shading(shades, None, None)
    roots = frozenset(graph.roots)  # outputs keep their own colour
    nodes = zip(graph.column("id"), graph.column("kind"), graph.column("grad"), strict=True)
    # Most nodes have no gradient: skip them in C.
    for node_id, kind, g in compress(nodes, graph.column("grad")):
        if kind not in ("op", "leaf") or node_id in roots or (kind == "leaf" and not leaves):
            continue
        if g.nan or g.inf:
            shades[node_id] = NONFINITE
        elif g.norm is not None and g.norm > 0 and math.isfinite(g.norm):
            norms[node_id] = g.norm
            if kind == "leaf":
                in_blue.add(node_id)
        else:
            shades[node_id] = (LEAF_RAMP if kind == "leaf" else GRAD_RAMP)[0]
    if not norms:
        return Shading(shades, None, None)
    low, high = scale or (min(norms.values()), max(norms.values()))
    lo, hi = math.log10(low), math.log10(high)
    top = len(GRAD_RAMP) - 1
    for node_id, norm in norms.items():
        step = top if hi == lo else round((math.log10(norm) - lo) / (hi - lo) * top)
        ramp = LEAF_RAMP if node_id in in_blue else GRAD_RAMP
        shades[node_id] = ramp[min(max(step, 0), top)]
    return Shading(shades, low, high)


def shared_scale(graphs: Iterable[Graph]) -> tuple[float, float] | None:
    """One shading range for several graphs (the calls of ``--call all``), so that the same
    norm gets the same shade in each: from the smallest op or leaf norm of any to the
    largest."""
    shadings = (grad_shades(graph, leaves=True) for graph in graphs)
    ranges = [(s.low, s.high) for s in shadings if s.low and s.high]
    if not ranges:
        return None
    return min(low for low, _ in ranges), max(high for _, high in ranges)
