"""Cutting a graph into blocks in series, for `fold_series`: shared nodes, the nodes set apart,
closed nodes, the spine of each, and the paths along spines whose blocks may repeat.

A node ``v`` is *closed* when everything upstream of it, shared nodes aside, feeds the rest of
the graph only through ``v``. Closed nodes nest; the *spine* input of a closed node is the
largest closed node nested in it, and following spines from an outermost closed node gives a
path ``c0 <- c1 <- ...`` cut into blocks: the block of ``ci`` is what is upstream of ``ci`` but
not of ``c(i+1)``. Everything here is integer arrays indexed by node (or edge) number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, compress
from typing import NamedTuple

from .adjacency import Adjacency

__all__ = ["Blocks", "find_blocks"]


@dataclass(frozen=True, slots=True)
class Blocks:
    """A graph cut into blocks along spines (see the module docstring)."""

    shared: bytearray
    """1 for nodes with two or more distinct consumers whose inputs are all shared."""
    cut: bytearray
    """1 for edges set apart: out of a node read by many, into a node fed by many."""
    collector: bytearray
    """1 for nodes fed by many distinct inputs, whose inputs are all set apart."""
    post: list[int]
    """The nodes of the depth-first forest over inputs, in post-order."""
    pos: list[int]
    """Each node's position in ``post``."""
    size: list[int]
    """The size of each node's subtree: its nodes are ``post[pos - size + 1 : pos + 1]``."""
    closed: bytearray
    """1 for closed nodes."""
    cparent: list[int]
    """A closed node's nearest closed ancestor, or -1."""
    spine: list[int]
    """A closed node's spine input (its largest closed child), or -1."""
    paths: list[list[int]]
    """Paths of three or more closed nodes along spines, from their outermost node, outer
    paths first."""

    def between(self, outer: int, inner: int) -> Iterable[int]:
        """Nodes upstream of ``outer`` but not of ``inner`` (a closed node inside it)."""
        pos, size, post = self.pos, self.size, self.post
        lo, hi = pos[inner] - size[inner] + 1, pos[inner] + 1
        return chain(post[pos[outer] - size[outer] + 1 : lo], post[hi : pos[outer] + 1])


class _Apart(NamedTuple):
    cut: bytearray
    """Edges left out of the blocks."""
    collector: bytearray
    """Nodes whose inputs are all left out."""


class _Forest(NamedTuple):
    post: list[int]
    """Nodes in post-order."""
    pos: list[int]
    """Each node's position in ``post``."""
    parent: list[int]
    """Each node's parent in the forest (a consumer), or -1."""


class _Closure(NamedTuple):
    size: list[int]
    """Subtree sizes."""
    closed: bytearray
    """1 for closed nodes."""


class _Spines(NamedTuple):
    cparent: list[int]
    """Nearest closed ancestor of each closed node."""
    spine: list[int]
    """Largest closed child of each closed node."""


def find_blocks(adj: Adjacency, order: list[int], fan: int) -> Blocks | None:
    """The blocks of ``adj``'s graph (``order``: topological), with nodes of ``fan`` or more
    distinct consumers or inputs set apart (``fan`` > 0); None when no path is long enough to
    fold."""
    shared = _shared_nodes(adj, order)
    apart = _set_apart(adj, shared, fan)
    forest = _forest(adj, shared, apart.cut)
    closure = _closed_nodes(adj, forest, shared, apart.cut)
    spines = _spines(forest, closure)
    paths = _paths(forest.post, closure.closed, spines)
    if not paths:
        return None
    return Blocks(
        shared=shared,
        cut=apart.cut,
        collector=apart.collector,
        post=forest.post,
        pos=forest.pos,
        size=closure.size,
        closed=closure.closed,
        cparent=spines.cparent,
        spine=spines.spine,
        paths=paths,
    )


def _shared_nodes(adj: Adjacency, order: list[int]) -> bytearray:
    """Shared nodes: two or more distinct consumers, all inputs shared; roots never."""
    src, dst, out_deg, pinned = adj.src, adj.dst, adj.out_deg, adj.pinned
    in_start, in_edges = adj.in_start, adj.in_edges
    out_start, out_edges = adj.out_start, adj.out_edges
    shared = bytearray(adj.n)
    for v in order:
        if out_deg[v] < 2 or v in pinned:
            continue
        if any(not shared[src[e]] for e in in_edges[in_start[v] : in_start[v + 1]]):
            continue
        outs = out_edges[out_start[v] : out_start[v + 1]]
        if any(dst[e] != dst[outs[0]] for e in outs):
            shared[v] = 1
    return shared


def _set_apart(adj: Adjacency, shared: bytearray, fan: int) -> _Apart:
    """With ``fan`` > 0, edges out of nodes with ``fan`` consumers or more, and into nodes with
    ``fan`` inputs or more, are cut; blocks refer to their far ends by identity."""
    src, dst, out_start, out_edges = adj.src, adj.dst, adj.out_start, adj.out_edges
    cut = bytearray(len(src))
    collector = bytearray(adj.n)
    if fan:
        for v in range(adj.n):
            if adj.in_deg[v] >= fan and len({src[e] for e in adj.ins(v)}) >= fan:
                collector[v] = 1
                for e in adj.ins(v):
                    cut[e] = 1
            outs = out_edges[out_start[v] : out_start[v + 1]]
            if len(outs) >= fan and not shared[v] and len({dst[e] for e in outs}) >= fan:
                for e in outs:
                    cut[e] = 1
    return _Apart(cut=cut, collector=collector)


def _forest(adj: Adjacency, shared: bytearray, cut: bytearray) -> _Forest:
    """Depth-first forest over inputs (shared nodes and cut edges left out), from the roots,
    then the other sinks: post-order positions and tree parents."""
    n, src, in_start, in_edges = adj.n, adj.src, adj.in_start, adj.in_edges
    live_out = adj.out_deg[:]  # consumers along edges that are not cut
    for e in compress(range(len(src)), cut):
        live_out[src[e]] -= 1
    pos = [-1] * n
    parent = [-1] * n
    post: list[int] = []
    seen = shared[:]
    cursor = in_start[:-1]
    starts = chain(
        (adj.index[r] for r in adj.graph.roots),
        (v for v in range(n) if not live_out[v]),
        range(n),
    )
    for r in starts:
        if seen[r]:
            continue
        seen[r] = 1
        stack = [r]
        while stack:
            v = stack[-1]
            i, end = cursor[v], in_start[v + 1]
            while i < end and (seen[src[in_edges[i]]] or cut[in_edges[i]]):
                i += 1
            if i < end:
                cursor[v] = i + 1
                u = src[in_edges[i]]
                seen[u] = 1
                parent[u] = v
                stack.append(u)
            else:
                stack.pop()
                pos[v] = len(post)
                post.append(v)
    return _Forest(post=post, pos=pos, parent=parent)


def _closed_nodes(adj: Adjacency, forest: _Forest, shared: bytearray, cut: bytearray) -> _Closure:
    """Closed nodes: no edge enters the subtree from outside, none leaves it but from its top.
    The subtree of v is the interval [pos - size + 1, pos] of post-order positions."""
    src, dst = adj.src, adj.dst
    post, pos, parent = forest.post, forest.pos, forest.parent
    n = adj.n
    size = [1] * n
    agg_in = pos[:]  # smallest position of an input, over the subtree, the node included
    high_out = [-1] * n  # largest position of a consumer
    for e in range(len(src)):
        s, d = src[e], dst[e]
        if shared[s] or cut[e]:
            continue
        if pos[s] < agg_in[d]:
            agg_in[d] = pos[s]
        if pos[d] > high_out[s]:
            high_out[s] = pos[d]
    agg_out = [-1] * n  # largest position of a consumer, over the subtree, the node excluded
    for v in post:
        p = parent[v]
        if p >= 0:
            size[p] += size[v]
            if agg_in[v] < agg_in[p]:
                agg_in[p] = agg_in[v]
            m = high_out[v] if high_out[v] > agg_out[v] else agg_out[v]
            if m > agg_out[p]:
                agg_out[p] = m
    closed = bytearray(n)
    for v in post:
        if agg_in[v] > pos[v] - size[v] and agg_out[v] <= pos[v]:
            closed[v] = 1
    return _Closure(size=size, closed=closed)


def _spines(forest: _Forest, closure: _Closure) -> _Spines:
    """Closed parent (nearest closed ancestor) and spine (largest closed child) of closed
    nodes."""
    post, parent = forest.post, forest.parent
    size, closed = closure.size, closure.closed
    n = len(parent)
    head = [-1] * n  # nearest closed ancestor-or-self
    cparent = [-1] * n
    for v in reversed(post):
        p = parent[v]
        up = head[p] if p >= 0 else -1
        if closed[v]:
            head[v] = v
            cparent[v] = up
        else:
            head[v] = up
    spine = [-1] * n
    for v in post:
        c = cparent[v]
        if closed[v] and c >= 0 and (spine[c] < 0 or size[v] > size[spine[c]]):
            spine[c] = v
    return _Spines(cparent=cparent, spine=spine)


def _paths(post: list[int], closed: bytearray, spines: _Spines) -> list[list[int]]:
    """Paths along spines from their outermost node, outer paths first; only long ones."""
    cparent, spine = spines.cparent, spines.spine
    paths: list[list[int]] = []
    for v in reversed(post):
        if not closed[v] or spine[v] < 0 or (cparent[v] >= 0 and spine[cparent[v]] == v):
            continue
        path = [v]
        while spine[path[-1]] >= 0:
            path.append(spine[path[-1]])
        if len(path) >= 3:
            paths.append(path)
    return paths
