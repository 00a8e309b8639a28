"""What every folding strategy shares: a graph as integer arrays to read, what makes two nodes
alike, and the graph rebuilt from what a strategy decided (nodes dropped, counts, edges moved)."""

from __future__ import annotations

import re
from itertools import accumulate

from ...model import Edge, Graph, Node

__all__ = ["Adjacency", "name_key", "rebuild", "shape_key"]


class Adjacency:
    """A graph as integer arrays for one folding pass: node i is ``graph.nodes[i]``.

    Inputs and outputs of each node are kept in compressed form: the edges into ``v`` are
    ``in_edges[in_start[v]:in_start[v + 1]]``, in edge order.
    """

    def __init__(self, graph: Graph) -> None:
        # Ids and edge ends, not records: `fits` on a walked graph makes no records, and the
        # graph drawn when it fits stays in the walk's compact form.
        ids = graph.column("id")
        sources, targets, _ = graph.edge_columns()
        n = len(graph)
        index = dict(zip(ids, range(n), strict=True))
        self.graph = graph
        self.n = n
        self.index = index
        self.src = src = list(map(index.__getitem__, sources))
        self.dst = dst = list(map(index.__getitem__, targets))
        m = len(src)
        self.in_deg = in_deg = [0] * n
        self.out_deg = out_deg = [0] * n
        for d in dst:
            in_deg[d] += 1
        for s in src:
            out_deg[s] += 1
        self.in_start = list(accumulate(in_deg, initial=0))
        self.in_edges = sorted(range(m), key=dst.__getitem__)
        self.out_start = list(accumulate(out_deg, initial=0))
        self.out_edges = sorted(range(m), key=src.__getitem__)
        pinned = {index[r] for r in graph.roots}
        if graph.first_nonfinite is not None and graph.first_nonfinite in index:
            pinned.add(index[graph.first_nonfinite])
        self.pinned = pinned
        """Nodes never folded into another: the roots and the first NaN/Inf."""
        self._topo: list[int] | None = None

    def ins(self, v: int) -> list[int]:
        """Edges into ``v``, in edge order."""
        return self.in_edges[self.in_start[v] : self.in_start[v + 1]]

    def topological(self) -> list[int] | None:
        """Node indices, each after its inputs (Kahn); None when there is a cycle."""
        if self._topo is None:
            pending = self.in_deg[:]
            dst, out_start, out_edges = self.dst, self.out_start, self.out_edges
            order = [v for v in range(self.n) if not pending[v]]
            for v in order:  # grows while iterating
                for e in out_edges[out_start[v] : out_start[v + 1]]:
                    w = dst[e]
                    pending[w] -= 1
                    if not pending[w]:
                        order.append(w)
            self._topo = order
        return self._topo if len(self._topo) == self.n else None

    def heights(self) -> list[int] | None:
        """Each node's longest path to a node without consumers (the loss, in a backward
        graph): how far before the output it sits in forward; None when there is a cycle."""
        order = self.topological()
        if order is None:
            return None
        dst, out_start, out_edges = self.dst, self.out_start, self.out_edges
        height = [0] * self.n
        for v in reversed(order):
            for e in out_edges[out_start[v] : out_start[v + 1]]:
                if height[dst[e]] >= height[v]:
                    height[v] = height[dst[e]] + 1
        return height


def shape_key(node: Node) -> tuple[object, ...]:
    """What makes two nodes the same for folding, count aside: not their names (parameters of
    identical layers have different ones), except a saved tensor's (``self``, ``other``) and a
    leaf's up to its numbers (`name_key`: a layer's weight and bias never fold together)."""
    return (
        node.kind,
        node.op,
        node.shape,
        node.dtype,
        node.is_leaf,
        node.requires_grad,
        node.freed,
        node.name if node.kind == "saved" else name_key(node),
    )


_NUMBERS = re.compile(r"\d+")


def name_key(node: Node) -> str | None:
    """A leaf's name without its numbers: ``h.#.ln_1.weight`` for the weight of every layer's
    ``ln_1``, ``w#`` for ``w0`` ... ``w9999``; leaves fold together only when theirs are equal.
    None for other nodes and unnamed leaves."""
    if node.kind != "leaf" or node.name is None:
        return None
    return _NUMBERS.sub("#", node.name)


def rebuild(
    adj: Adjacency,
    dead: bytearray,
    counts: list[int],
    *,
    src_map: dict[int, int] | None = None,
    dst_map: dict[int, int] | None = None,
    renamed: dict[int, Node] | None = None,
) -> Graph:
    """The graph without its ``dead`` nodes, with ``counts``, edges re-pointed by the maps,
    and the nodes at ``renamed`` replaced by the ones given (a new module or name)."""
    graph = adj.graph
    kept = list(graph.nodes)
    for i, node in (renamed or {}).items():
        kept[i] = node
    nodes = [
        node if counts[i] == node.count else node._replace(count=counts[i])
        for i, node in enumerate(kept)
        if not dead[i]
    ]
    ids = [node.id for node in graph.nodes]
    edges: list[Edge] = []
    src, dst = adj.src, adj.dst
    smap = src_map or {}
    dmap = dst_map or {}
    for e, edge in enumerate(graph.edges):
        s, d = src[e], dst[e]
        if smap or dmap:
            s, d = smap.get(s, s), dmap.get(d, d)
        if dead[s] or dead[d]:
            continue
        if s == src[e] and d == dst[e]:
            edges.append(edge)
        else:
            # a moved edge keeps its slot and kind, not what flowed along it
            edges.append(Edge(src=ids[s], dst=ids[d], slot=edge.slot, kind=edge.kind))
    return graph.replace(nodes=tuple(nodes), edges=tuple(edges))
