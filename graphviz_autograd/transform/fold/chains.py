"""Folding runs of one op: ``x = x * 2`` in a loop, drawn as one ``MulBackward0`` with a count."""

from __future__ import annotations

from typing import Final

from ...model import Graph
from .adjacency import Adjacency, rebuild

__all__ = ["fold_chains", "step"]

_SIDE_KINDS: Final = frozenset(("input", "saved"))


def fold_chains(graph: Graph) -> Graph:
    """Fold each maximal linear run of one op into its last node, with ``count`` = run length.

    Nodes ``v1 -> v2 -> ... -> vk`` (``vk`` nearest to the root) form a run when, for each
    consecutive pair ``u -> w``:

    - both are ``op`` nodes with the same ``op`` (collapsed modules: and the same count);
    - ``u`` is not a root nor ``first_nonfinite``, and its only outgoing edge is the data edge to
      ``w``;
    - ``w`` has exactly one *main* input, ``u``. Its other inputs, if any, must be *side* nodes:
      ``input`` or ``saved`` nodes without inputs whose only edge goes to it (the constant of
      ``x * 2`` with ``show_inputs``, the tensors it saved with ``show_saved``);
    - ``u`` and ``w`` have the same side inputs: same edge kinds and slots, node kinds and
      saved-tensor names, in the same order.

    The run becomes ``vk`` (with its id, name, shape, grad and order: those nearest to the
    root), whose ``count`` is the sum of the run's counts; ``v1``'s main inputs now feed ``vk``.
    Side nodes fold the same way: ``vk``'s i-th side node also counts every other run member's
    i-th side node. Leaves (and any other input) break a run: `fold_series` folds those.
    Returns ``graph`` itself when nothing folds.
    """
    return step(Adjacency(graph)) or graph


def step(adj: Adjacency) -> Graph | None:
    """`fold_chains` on the graph of ``adj``; None when nothing folds."""
    side_of = _side_edges(adj)
    prev = _links(adj, side_of)
    if not prev:
        return None
    return _merge_runs(adj, side_of, prev)


def _side_edges(adj: Adjacency) -> dict[int, list[int]]:
    """Consumer -> the edges of its side nodes, in edge order."""
    dst, in_deg, out_deg, pinned = adj.dst, adj.in_deg, adj.out_deg, adj.pinned
    out_start, out_edges = adj.out_start, adj.out_edges
    side_of: dict[int, list[int]] = {}
    for v, node in enumerate(adj.graph.nodes):
        if node.kind in _SIDE_KINDS and out_deg[v] == 1 and not in_deg[v] and v not in pinned:
            side_of.setdefault(dst[out_edges[out_start[v]]], []).append(out_edges[out_start[v]])
    for side_edges in side_of.values():
        side_edges.sort()
    return side_of


def _links(adj: Adjacency, side_of: dict[int, list[int]]) -> dict[int, int]:
    """``prev[w] = u``: ``u`` folds into ``w``. Each ``w`` has one main input, so runs are
    simple paths."""
    nodes, edges = adj.graph.nodes, adj.graph.edges
    src, dst, in_deg, out_deg, pinned = adj.src, adj.dst, adj.in_deg, adj.out_deg, adj.pinned
    out_start, out_edges = adj.out_start, adj.out_edges

    def side_key(v: int) -> tuple[tuple[object, ...], ...]:
        return tuple(
            (edges[e].kind, edges[e].slot, nodes[src[e]].kind, nodes[src[e]].name)
            for e in side_of.get(v, ())
        )

    prev: dict[int, int] = {}
    for u in range(adj.n):
        if out_deg[u] != 1 or u in pinned:
            continue
        nu = nodes[u]
        e = out_edges[out_start[u]]
        w = dst[e]
        nw = nodes[w]
        if nu.kind != "op" or nw.op != nu.op or nw.kind != "op" or edges[e].kind != "data":
            continue
        if nu.op == "module" and nu.count != nw.count:
            continue  # collapsed modules (`collapse_modules`) alike only in op: net.0 -> net.1
        if in_deg[w] - len(side_of.get(w, ())) != 1 or w == u:
            continue
        if side_of and side_key(u) != side_key(w):
            continue
        prev[w] = u
    return prev


def _merge_runs(adj: Adjacency, side_of: dict[int, list[int]], prev: dict[int, int]) -> Graph:
    """Each run folded into its last node (and side nodes into the last node's), the run's
    first node's main inputs feeding the last."""
    src = adj.src
    counts = [node.count for node in adj.graph.nodes]
    dead = bytearray(adj.n)
    dst_map: dict[int, int] = {}
    merged = set(prev.values())
    for w in prev:
        if w in merged:
            continue  # w folds into its consumer: not the last node of its run
        rep_sides = [src[e] for e in side_of.get(w, ())]
        u = prev[w]
        while True:
            dead[u] = 1
            counts[w] += counts[u]
            for rep_side, e in zip(rep_sides, side_of.get(u, ()), strict=True):
                dead[src[e]] = 1
                counts[rep_side] += counts[src[e]]
            if u not in prev:
                break
            u = prev[u]
        dst_map[u] = w  # the main inputs of the run's first node now feed its last
    return rebuild(adj, dead, counts, dst_map=dst_map)
