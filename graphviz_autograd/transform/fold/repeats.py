"""Folding identical branches into one consumer: 10,000 ``leaf -> MulBackward0`` branches
stacked together, drawn as one branch with counts."""

from __future__ import annotations

from ...model import Graph
from .adjacency import Adjacency, rebuild, shape_key

__all__ = ["fold_repeats", "step"]


def fold_repeats(graph: Graph) -> Graph:
    """Fold identical branches that feed the same node into one, with counts.

    A node's *branch* is the node and, recursively, each of its inputs that has exactly one
    outgoing edge and is not a root nor ``first_nonfinite`` (an *exclusive* input): a tree.
    Exclusive inputs of one consumer, along edges of the same kind, fold together when their
    branches are identical: node by node the same kind, op, shape, dtype, count, flags and
    saved-tensor name (not the names of leaves and ops: parameters of identical layers have
    different names), the same input edges (kind and slot, in edge order), and the same shared
    (not exclusive) nodes at the same places. The first of them in edge order stays, every node
    of its branch has its count multiplied by the number of copies, and the other copies are
    dropped with their edges: ``torch.stack([w_i * 2 for i in range(10_000)])`` draws one leaf
    and one ``MulBackward0``, each ``×10000``, feeding the ``StackBackward0``.

    Candidates are found by a structural hash of each node's branch, computed bottom-up over a
    topological order (no recursion), then confirmed node by node, so a hash collision never
    folds different branches. Consumers are taken from the roots down, so outer repeats fold
    before the repeats inside them. Returns ``graph`` itself when nothing folds.
    """
    return step(Adjacency(graph)) or graph


def step(adj: Adjacency) -> Graph | None:
    """`fold_repeats` on the graph of ``adj``; None when nothing folds."""
    order = adj.topological()
    if order is None:  # a cycle: not an autograd graph
        return None
    exclusive = _exclusive(adj)
    fan = _exclusive_fan_in(adj, exclusive)
    if fan is None:
        return None
    branches = _Branches(adj, exclusive)
    sig = branches.signatures(order)
    folded = False
    edges, src = adj.graph.edges, adj.src
    for c in reversed(order):  # consumers before their inputs: outer repeats first
        if branches.dead[c] or fan[c] < 2:
            continue
        groups: dict[tuple[str, int], list[int]] = {}
        for e in adj.ins(c):
            s = src[e]
            if exclusive[s]:
                groups.setdefault((edges[e].kind, sig[s]), []).append(s)
        for group in groups.values():
            if len(group) >= 2 and branches.fold_group(group):
                folded = True
    return rebuild(adj, branches.dead, branches.counts) if folded else None


def _exclusive(adj: Adjacency) -> bytearray:
    """1 for each node with exactly one outgoing edge that is not pinned."""
    out_deg, pinned = adj.out_deg, adj.pinned
    exclusive = bytearray(adj.n)
    for v in range(adj.n):
        if out_deg[v] == 1 and v not in pinned:
            exclusive[v] = 1
    return exclusive


def _exclusive_fan_in(adj: Adjacency, exclusive: bytearray) -> list[int] | None:
    """The number of exclusive inputs of each node; None when no node has two (nothing to
    fold)."""
    src, dst = adj.src, adj.dst
    fan = [0] * adj.n
    candidate = False
    for e in range(len(src)):
        if exclusive[src[e]]:
            d = dst[e]
            fan[d] += 1
            if fan[d] > 1:
                candidate = True
    return fan if candidate else None


class _Branches:
    """The branches of one graph: their hashes, comparing and folding them. ``counts`` and
    ``dead`` record the folding done so far."""

    __slots__ = ("counts", "dead", "edges", "exclusive", "in_edges", "in_start", "keys", "n", "src")

    def __init__(self, adj: Adjacency, exclusive: bytearray) -> None:
        nodes = adj.graph.nodes
        self.n = adj.n
        self.edges = adj.graph.edges
        self.src, self.in_start, self.in_edges = adj.src, adj.in_start, adj.in_edges
        self.exclusive = exclusive
        self.keys = list(map(shape_key, nodes))
        self.counts = [node.count for node in nodes]
        self.dead = bytearray(adj.n)

    def signatures(self, order: list[int]) -> list[int]:
        """A structural hash of each node's branch, bottom-up over ``order``."""
        edges, src, in_start, in_edges = self.edges, self.src, self.in_start, self.in_edges
        exclusive, keys, counts = self.exclusive, self.keys, self.counts
        sig = [0] * self.n
        for v in order:
            ins = in_edges[in_start[v] : in_start[v + 1]]
            if ins:
                sig[v] = hash(
                    (
                        keys[v],
                        counts[v],
                        tuple(
                            (edges[e].kind, edges[e].slot, 1, sig[src[e]])
                            if exclusive[src[e]]
                            else (edges[e].kind, edges[e].slot, 0, src[e])
                            for e in ins
                        ),
                    )
                )
            else:
                sig[v] = hash((keys[v], counts[v]))
        return sig

    def fold_group(self, group: list[int]) -> bool:
        """Fold the branches in ``group`` that equal its first into the first; whether any
        did."""
        rep = group[0]
        copies = [s for s in group[1:] if self.same(rep, s)]
        if not copies:
            return False
        dead, counts = self.dead, self.counts
        for s in copies:
            for u in self.branch(s):
                dead[u] = 1
        for u in self.branch(rep):
            counts[u] *= len(copies) + 1
        return True

    def branch(self, v: int) -> list[int]:
        """The nodes of ``v``'s branch, depth-first."""
        src, in_start, in_edges, exclusive = self.src, self.in_start, self.in_edges, self.exclusive
        out, stack = [], [v]
        while stack:
            u = stack.pop()
            out.append(u)
            stack.extend(
                src[e] for e in in_edges[in_start[u] : in_start[u + 1]] if exclusive[src[e]]
            )
        return out

    def same(self, a: int, b: int) -> bool:
        """Whether the branches of ``a`` and ``b`` are identical, node by node."""
        edges, src, in_start, in_edges = self.edges, self.src, self.in_start, self.in_edges
        exclusive, keys, counts = self.exclusive, self.keys, self.counts
        stack = [(a, b)]
        while stack:
            x, y = stack.pop()
            if keys[x] != keys[y] or counts[x] != counts[y]:
                return False
            ins_x = in_edges[in_start[x] : in_start[x + 1]]
            ins_y = in_edges[in_start[y] : in_start[y + 1]]
            if len(ins_x) != len(ins_y):
                return False
            for ex, ey in zip(ins_x, ins_y, strict=True):
                if edges[ex].kind != edges[ey].kind or edges[ex].slot != edges[ey].slot:
                    return False
                sx, sy = src[ex], src[ey]
                if exclusive[sx] and exclusive[sy]:
                    stack.append((sx, sy))
                elif exclusive[sx] or exclusive[sy] or sx != sy:
                    return False
        return True
