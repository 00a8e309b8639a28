"""Collapse deep modules: every module nested deeper than N becomes one summary node."""

from __future__ import annotations

from ..errors import GradvizError
from ..model import Edge, Graph, Node

__all__ = ["collapse_modules", "module_depth"]


def module_depth(graph: Graph) -> int:
    """The depth of the most deeply nested module that made a node (0: no module)."""
    modules = set(filter(None, graph.column("module")))
    return max((m.count(".") + 1 for m in modules), default=0)


def collapse_modules(
    graph: Graph, depth: int, *, hint: str = "raise --depth to open them"
) -> Graph:
    """``graph`` with the nodes of each module deeper than ``depth`` merged into one node.

    A module path's depth is its number of parts (``model`` is 1, ``model.encoder.layers.0``
    is 4). Each module deeper than ``depth`` (``depth + 1`` parts), with everything inside it,
    becomes one ``op`` node: it keeps the id of the first of its nodes, is labelled with the
    module's path, and counts the nodes it stands for. Edges inside a group disappear; edges
    between groups are kept once per (source, destination, kind). Roots are never merged.
    A note says how many modules were collapsed, then ``hint``.
    """
    if depth < 1:
        raise GradvizError(f"--depth must be at least 1, not {depth}")
    roots = set(graph.roots)
    group_of: dict[str, str] = {}  # node id -> group key (the truncated module path)
    first: dict[str, int] = {}  # group key -> index of its first node
    counts: dict[str, int] = {}
    for index, node in enumerate(graph.nodes):
        if node.module is None or node.id in roots:
            continue
        parts = node.module.split(".")
        if len(parts) <= depth:
            continue
        key = ".".join(parts[: depth + 1])
        group_of[node.id] = key
        first.setdefault(key, index)
        counts[key] = counts.get(key, 0) + node.count
    if not group_of:
        return graph
    rep = {node_id: graph.nodes[first[key]].id for node_id, key in group_of.items()}
    nodes: list[Node] = []
    for index, node in enumerate(graph.nodes):
        group = group_of.get(node.id)
        if group is None:
            nodes.append(node)
        elif first[group] == index:
            nodes.append(
                Node(node.id, "op", op="module", name=group, module=group, count=counts[group])
            )
    edges: list[Edge] = []
    seen: set[tuple[str, str, str]] = set()
    for edge in graph.edges:
        src, dst = rep.get(edge.src, edge.src), rep.get(edge.dst, edge.dst)
        if src == dst:
            continue
        merged = edge.src in rep or edge.dst in rep
        if merged:
            if (src, dst, edge.kind) in seen:
                continue
            seen.add((src, dst, edge.kind))
        edges.append(Edge(src, dst, None if merged else edge.slot, edge.kind))
    note = (
        f"modules deeper than {depth} levels are drawn as one node each ({len(first)} "
        f"collapsed); {hint}"
    )
    return Graph(
        tuple(nodes),
        tuple(edges),
        graph.roots,
        notes=(*graph.notes, note),
        first_nonfinite=None
        if graph.first_nonfinite is None
        else rep.get(graph.first_nonfinite, graph.first_nonfinite),
        saved_bytes=graph.saved_bytes,
    )
