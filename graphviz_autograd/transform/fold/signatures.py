"""Block signatures for `fold_series`: equal numbers for blocks that fold together.

A block is serialised depth-first in input (edge) order: each node by a number for its
description (kind, op, shape, dtype, count, flags, input edges), side branches by their own
signature, the spine input as a placeholder, and shared or set-apart nodes by identity. Each
distinct serialisation gets the next number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from .adjacency import Adjacency, shape_key
from .blocks import Blocks

__all__ = ["block_encoder"]

# Markers in a serialisation; descriptions and positions are numbers >= 0.
_SPINE: Final = -1
"""The spine input: the next block along the path."""
_CLOSED: Final = -2
"""A side branch, followed by its signature."""
_REF: Final = -3
"""A node met before in this block, followed by its position in the block."""
_PINNED: Final = -4
"""A root or ``first_nonfinite``, followed by its node number: equal to no other block's."""
_SHARED: Final = -5
"""A shared node or the far end of a cut edge, followed by its node number."""


def block_encoder(adj: Adjacency, blocks: Blocks) -> Callable[[int, int], int]:
    """``encode(v, spine_input)``: the signature of closed node ``v``'s block, with
    ``spine_input`` (-1: none) standing for the next block. The signatures of the side branches
    that blocks hold are computed first, innermost first."""
    nodes, edges = adj.graph.nodes, adj.graph.edges
    src, in_start, in_edges, pinned = adj.src, adj.in_start, adj.in_edges, adj.pinned
    shared, closed, collector, cut = blocks.shared, blocks.closed, blocks.collector, blocks.cut
    table: dict[tuple[int, ...], int] = {}
    descs: dict[tuple[object, ...], int] = {}
    full = [-1] * adj.n  # the signature of each side branch

    def describe(u: int) -> int:
        node = nodes[u]
        ins = in_edges[in_start[u] : in_start[u + 1]]
        key = (shape_key(node), node.count, tuple((edges[e].kind, edges[e].slot) for e in ins))
        return descs.setdefault(key, len(descs))

    def encode(v: int, spine_input: int) -> int:
        """v's segment in pre-order; each node's description gives its number of inputs."""
        out: list[int] = []
        local: dict[int, int] = {}
        stack = [v]
        while stack:
            u = stack.pop()
            if u < 0:  # along a cut edge
                out += (_SHARED, -1 - u)
            elif shared[u]:
                out += (_SHARED, u)
            elif u in pinned:
                out += (_PINNED, u)  # equal to no other block's
            elif u in local:
                out += (_REF, local[u])
            else:
                local[u] = len(local)
                if u == spine_input:
                    out.append(_SPINE)
                elif u != v and closed[u]:
                    out += (_CLOSED, full[u])
                else:
                    out.append(describe(u))
                    ins = in_edges[in_start[u] : in_start[u + 1]]
                    if collector[u]:
                        for e in ins:
                            out += (_SHARED, src[e])
                    else:
                        for e in reversed(ins):
                            stack.append(-1 - src[e] if cut[e] else src[e])
        return table.setdefault(tuple(out), len(table))

    needed = _side_branches(blocks)
    for v in blocks.post:  # nested side branches first
        if needed[v]:
            full[v] = encode(v, -1)
    return encode


def _side_branches(blocks: Blocks) -> bytearray:
    """1 for side branches (closed, not a spine) and all closed nodes inside them: those that
    need a signature of their own."""
    closed, cparent, spine = blocks.closed, blocks.cparent, blocks.spine
    needed = bytearray(len(closed))
    for v in reversed(blocks.post):
        c = cparent[v]
        if closed[v] and c >= 0 and (spine[c] != v or needed[c]):
            needed[v] = 1
    return needed
