"""The graphs of a run's calls as one graph, to lay out once: `union`.

A `History` keeps one graph per structure. The one most calls had is the base; the nodes of
every other are matched to it by structure (`diff.compare`), and what matches nothing is added,
with its edges. Each structure then maps its nodes and edges to the union's, so that a step's
figures land on the union's nodes, and a node no call of that structure has is absent there.
Pure and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..history import History
from ..model import Edge, Graph
from .diff import compare

__all__ = ["Union", "union"]


@dataclass(frozen=True, slots=True)
class Union:
    """One graph for every structure of a `History`."""

    graph: Graph
    node_maps: tuple[tuple[int, ...], ...]
    """For each of the history's graphs: the union index of each of its nodes."""
    edge_maps: tuple[tuple[int, ...], ...]
    """For each of the history's graphs: the union index of each of its edges."""


def union(history: History) -> Union:
    """The union of ``history``'s graphs, on the structure most of its calls had."""
    base_index = history.main
    base = history.graphs[base_index]
    nodes = list(base.nodes)
    edges = list(base.edges)
    node_at = {node.id: k for k, node in enumerate(nodes)}
    edge_at = {_edge_key(e): k for k, e in enumerate(edges)}
    node_maps: list[tuple[int, ...]] = []
    edge_maps: list[tuple[int, ...]] = []
    for g, graph in enumerate(history.graphs):
        if g == base_index:
            node_maps.append(tuple(range(len(base.nodes))))
            edge_maps.append(tuple(range(len(base.edges))))
            continue
        to_base = {b: a for a, b in compare(base, graph).matched}
        ids: dict[str, str] = {}
        for node in graph.nodes:
            if node.id in to_base:
                ids[node.id] = to_base[node.id]
            else:  # this structure's own: a fresh id in the union
                ids[node.id] = f"{node.id}@{g + 1}"
                node_at[ids[node.id]] = len(nodes)
                nodes.append(node._replace(id=ids[node.id]))
        node_maps.append(tuple(node_at[ids[node.id]] for node in graph.nodes))
        mapped = []
        for edge in graph.edges:
            edge = edge._replace(src=ids[edge.src], dst=ids[edge.dst])
            key = _edge_key(edge)
            if key not in edge_at:
                edge_at[key] = len(edges)
                edges.append(edge)
            mapped.append(edge_at[key])
        edge_maps.append(tuple(mapped))
    graph = Graph(
        tuple(nodes), tuple(edges), base.roots, base.notes, base.first_nonfinite, base.saved_bytes
    )
    return Union(graph, tuple(node_maps), tuple(edge_maps))


def _edge_key(edge: Edge) -> tuple[object, ...]:
    return edge.src, edge.dst, edge.slot, edge.kind
