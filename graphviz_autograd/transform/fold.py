"""Fold a large `Graph` into a small one that reads the same, before layout.

Graphviz layout, not the walk, is what limits the size of a picture: ``dot`` needs seconds for a
couple of thousand nodes and minutes for tens of thousands. Folding draws repeated structure once,
with a count (``MulBackward0 ×100000``), so any graph lays out in seconds. It is a transformation
of the torch-free model: renderers draw whatever `Graph` they are given.

Three foldings, each a pure function `Graph` -> `Graph`:

- `fold_chains`: a linear run of one op (``x = x * 2`` in a loop) becomes one node.
- `fold_repeats`: identical branches feeding one consumer (10,000 ``leaf -> MulBackward0``
  branches stacked together) become one branch.
- `fold_series`: identical blocks in series (the layers of a transformer, the body of an unrolled
  loop) become one block.

`fold` applies them, in that order, until the graph fits a budget (`DEFAULT_MAX_NODES` nodes, and
a `layout_size` that counts long edges too: `LAYOUT_SIZE_PER_NODE`).

Invariants of every folding:

- The sum of `Node.count` over the nodes equals that of the input graph (so for a graph fresh
  from the walk, where every count is 1, it is the number of nodes of the full graph): a kept node
  stands for itself and for every node folded into it.
- Ids are those of kept nodes, in their original order; roots and ``first_nonfinite`` are
  always kept and never folded into another node; every edge joins two kept nodes, and every
  kept node still leads to a root. Edges carry no count: a folded node's edges stand for those
  of all its copies.
- A kept node keeps its own fields (name, shape, ``grad``, ``order``...) except ``count``: in a run
  or a series of blocks the kept node is the one nearest to the root (its gradient is the one
  that flows into the run); of identical branches it is the first, in edge order. The other
  nodes' names and gradients are not shown.
- Same input, same output; everything is iterative (no recursion) and about linear in the size of
  the graph, so a graph of a million nodes folds in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import accumulate, chain, compress
from typing import Final

from ..errors import GradvizError
from ..model import Edge, Graph, Node

__all__ = [
    "DEFAULT_MAX_NODES",
    "LAYOUT_SIZE_PER_NODE",
    "MAX_PERIOD",
    "fits",
    "fold",
    "fold_chains",
    "fold_fitting",
    "fold_repeats",
    "fold_series",
    "layout_size",
]

DEFAULT_MAX_NODES: Final = 1500
"""Graphs with more nodes than this are folded before layout (``--max-nodes``; 0: never fold).

Measured with Graphviz 2.43, ``dot -Tsvg`` on `to_dot` output, CPU time of ``dot`` on a busy
2-core x86-64 VM (wall time 1-2x that):

=========================================  =====  =====  =====  =====
nodes                                        500   1000   2000   4000
=========================================  =====  =====  =====  =====
chain                                       0.1 s  0.2 s  0.6 s  2.6 s
parallel ``leaf -> Mul`` branches, stacked  0.2 s  0.4 s  1.2 s  5.7 s
=========================================  =====  =====  =====  =====

``nn.TransformerEncoder`` graphs (tangled: residuals, attention): 910 nodes 0.8 s, 1,366 nodes
1.4 s, 1,518 nodes 0.8-1.3 s, 1,822 nodes 2.7 s, 2,050 nodes 2.8-4.1 s, 2,506 nodes 8 s, 3,646
nodes 22 s. Layout time grows much faster than linearly past ~1,800 nodes; 1,500 keeps every
shape measured to about 2 s, with room for denser real graphs. The node count alone misses
long edges: see `LAYOUT_SIZE_PER_NODE`.
"""

LAYOUT_SIZE_PER_NODE: Final = 2
"""A graph fits a budget of N nodes when it has at most N nodes and its `layout_size` is at most
this times N.

Every rank a ``dot`` edge crosses is a virtual node that crossing minimisation moves like a real
one, so long edges (a weight read at every step of a loop, a ``stack`` of every step's output)
cost what nodes do. Measured as for `DEFAULT_MAX_NODES`, ``nn.GRU`` (2 layers) unrolled over T
steps, one module cluster:

=====  =====  ===========  ==========
T      nodes  layout size  ``dot``
=====  =====  ===========  ==========
5        161       1,167     0.3 s
8        245       2,823     0.9 s
10       301       4,327     4.8 s
12       357       6,151    23.4 s
15       441       9,487    over 60 s
50     1,421     101,607    over 10 min
=====  =====  ===========  ==========

``nn.TransformerEncoder``, 20 layers: 1,519 nodes, layout size 2,525, 0.8 s with its 182
module clusters and 1.3 s without them (clusters did not slow ``dot`` down measurably).
"""

MAX_PERIOD: Final = 16
"""`fold_series` looks for blocks of up to this many segments (a transformer layer has 4)."""


def fold(graph: Graph, *, max_nodes: int = DEFAULT_MAX_NODES) -> Graph:
    """``graph`` folded until it has at most ``max_nodes`` nodes, or as far as it folds.

    ``max_nodes == 0``, or a graph that already fits, returns ``graph`` itself. Otherwise
    `fold_chains`, `fold_repeats` and `fold_series` are applied in turn, stopping as soon as the
    graph fits, and again while one of them still folds something. A note (`Graph.notes`) says
    what was folded and how to see every node; another says so when the graph still does not fit.

    Raises:
        GradvizError: ``max_nodes`` is negative.
    """
    return fold_fitting(graph, max_nodes=max_nodes)[0]


def fold_fitting(graph: Graph, *, max_nodes: int = DEFAULT_MAX_NODES) -> tuple[Graph, bool]:
    """`fold`, and whether what it returns `fits` the budget (always, for ``max_nodes == 0``):
    known from the folding, so a caller need not measure the graph again."""
    if max_nodes < 0:
        raise GradvizError(f"max_nodes must be 0 (never fold) or positive, not {max_nodes}")
    if max_nodes == 0:
        return graph, True
    fitting, adj = _fitting(graph, max_nodes)
    if fitting:
        return graph, True
    steps: tuple[tuple[str, Callable[[_Adjacency], Graph | None]], ...] = (
        ("runs of the same op", _fold_chains),
        ("identical branches", _fold_repeats),
        ("identical blocks in series", _fold_series),
    )
    current = graph
    done: list[str] = []
    while not fitting:
        before = len(current)
        for what, step in steps:
            if adj is None:
                adj = _Adjacency(current)
            folded = step(adj)
            if folded is None:
                continue
            current = folded
            if what not in done:
                done.append(what)
            fitting, adj = _fitting(current, max_nodes)  # the adjacency serves the next step
            if fitting:
                break
        if len(current) == before:
            break
    notes = list(graph.notes)
    removed = len(graph) - len(current)
    if removed:
        kinds = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
        notes.append(
            f"folded {removed:,} nodes: {kinds} drawn once with ×N; "
            "pass --max-nodes 0 to draw every node"
        )
    if not fitting:
        notes.append(
            f"{len(current):,} nodes{' remain' if removed else ''} with "
            f"{current.edge_count:,} edges, more than lay out in a few seconds: no more repeated "
            "structure to fold"
        )
    return current.replace(notes=tuple(notes)), fitting


def layout_size(graph: Graph) -> int:
    """An estimate of what ``dot`` lays out: the nodes, plus one virtual node for every rank
    that an edge crosses.

    Ranks are counted from the roots (each node one rank above its lowest consumer: where
    ``dot`` puts a leaf read by many), so an edge from rank r to rank s > r + 1 adds s - r - 1.
    Linear in the size of the graph.
    """
    return _layout_size(_Adjacency(graph))


def _layout_size(adj: _Adjacency) -> int:
    """`layout_size` of the graph of ``adj``."""
    order = adj.topological()
    if order is None:  # a cycle: not an autograd graph; count the nodes only
        return adj.n
    dst, out_start, out_edges = adj.dst, adj.out_start, adj.out_edges
    height = [0] * adj.n  # longest path to a node without consumers
    for v in reversed(order):
        for e in out_edges[out_start[v] : out_start[v + 1]]:
            if height[dst[e]] >= height[v]:
                height[v] = height[dst[e]] + 1
    crossed: int = sum(height[s] - height[d] - 1 for s, d in zip(adj.src, dst, strict=True))
    return adj.n + crossed


def fits(graph: Graph, max_nodes: int) -> bool:
    """Whether ``graph`` lays out in a few seconds under a budget of ``max_nodes`` nodes: at most
    that many nodes, and a `layout_size` of at most `LAYOUT_SIZE_PER_NODE` times as many."""
    return _fitting(graph, max_nodes)[0]


def _fitting(graph: Graph, max_nodes: int) -> tuple[bool, _Adjacency | None]:
    """`fits`, and the adjacency made to measure the graph (None when its node count alone
    says it does not fit), for a folding step to use."""
    if len(graph) > max_nodes:
        return False, None
    adj = _Adjacency(graph)
    return _layout_size(adj) <= LAYOUT_SIZE_PER_NODE * max_nodes, adj


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
    return _fold_chains(_Adjacency(graph)) or graph


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
    return _fold_repeats(_Adjacency(graph)) or graph


def fold_series(graph: Graph, *, max_period: int = MAX_PERIOD) -> Graph:
    """Fold identical blocks in series (the layers of a transformer) into one, with counts.

    *Shared* nodes are those with two or more distinct consumers whose inputs are all shared:
    a parameter used by every step of a loop, its transpose. A node ``v`` is *closed* when
    everything upstream of it, shared nodes aside, feeds the rest of the graph only through
    ``v``: a layer's output, a parameter leaf, each node of a plain chain. Closed nodes nest.
    The *spine* input of a closed node is the largest closed node nested in it (the previous
    layer); following spines from an outermost closed node gives a path ``c0 <- c1 <- ...``
    cut into *blocks*: the block of ``ci`` is what is upstream of ``ci`` but not of ``c(i+1)``,
    side branches such as a layer's own parameters included, shared nodes excluded.

    Each block gets a canonical signature: its nodes serialised depth-first in input (edge)
    order, side branches by their own signature, the spine input as a placeholder and shared
    nodes by identity. Where the signatures along a path repeat with a period of ``p`` blocks
    (``p`` from 1 to ``max_period``, smallest first) ``r >= 2`` times, the first ``p`` blocks
    (nearest to the root) stay, with the counts of their nodes multiplied by ``r``; the other
    blocks are dropped, and the spine input of the last dropped block feeds the kept blocks in
    its place. The side branches of kept blocks are searched the same way, after the path that
    holds them. Blocks holding a root or ``first_nonfinite`` never fold. Returns ``graph``
    itself when nothing folds.

    One pass folds each run of repeats once: repeats of repeats (a loop body made of two
    identical halves and a third part) need a second pass, which `fold` makes. Blocks that also
    share a non-trivial upstream node (the ``unbind`` that gives each step of an RNN its slice
    of the input) are not closed, and blocks whose outputs all feed one node (the ``stack`` of
    every step's output) nest badly; when nothing folds, the search is made again with the nodes
    of the most distinct consumers, or inputs, set apart (cut from the blocks, referred to by
    identity in their signatures): the largest such number first, then the next, three at most.
    """
    if max_period < 1:
        raise GradvizError(f"max_period must be positive, not {max_period}")
    return _fold_series(_Adjacency(graph), max_period) or graph


# --- shared plumbing -----------------------------------------------------------------------------

_SIDE_KINDS: Final = frozenset(("input", "saved"))


class _Adjacency:
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


def _shape_key(node: Node) -> tuple[object, ...]:
    """What makes two nodes the same for folding, count aside: not their names (parameters of
    identical layers have different ones), except a saved tensor's (``self``, ``other``)."""
    return (
        node.kind,
        node.op,
        node.shape,
        node.dtype,
        node.is_leaf,
        node.requires_grad,
        node.freed,
        node.name if node.kind == "saved" else None,
    )


def _rebuild(
    adj: _Adjacency,
    dead: bytearray,
    counts: list[int],
    *,
    src_map: dict[int, int] | None = None,
    dst_map: dict[int, int] | None = None,
) -> Graph:
    """The graph without its ``dead`` nodes, with ``counts``, edges re-pointed by the maps."""
    graph = adj.graph
    nodes = [
        node if counts[i] == node.count else node._replace(count=counts[i])
        for i, node in enumerate(graph.nodes)
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
            edges.append(Edge(ids[s], ids[d], edge.slot, edge.kind))
    return graph.replace(nodes=tuple(nodes), edges=tuple(edges))


# --- runs of one op ------------------------------------------------------------------------------


def _fold_chains(adj: _Adjacency) -> Graph | None:
    nodes, edges = adj.graph.nodes, adj.graph.edges
    src, dst, in_deg, out_deg, pinned = adj.src, adj.dst, adj.in_deg, adj.out_deg, adj.pinned
    out_start, out_edges = adj.out_start, adj.out_edges
    # consumer -> its side edges, in edge order
    side_of: dict[int, list[int]] = {}
    for v, node in enumerate(nodes):
        if node.kind in _SIDE_KINDS and out_deg[v] == 1 and not in_deg[v] and v not in pinned:
            side_of.setdefault(dst[out_edges[out_start[v]]], []).append(out_edges[out_start[v]])
    for side_edges in side_of.values():
        side_edges.sort()

    def side_key(v: int) -> tuple[tuple[object, ...], ...]:
        return tuple(
            (edges[e].kind, edges[e].slot, nodes[src[e]].kind, nodes[src[e]].name)
            for e in side_of.get(v, ())
        )

    # prev[w] = u: u folds into w. Each w has one main input, so runs are simple paths.
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
    if not prev:
        return None
    counts = [node.count for node in nodes]
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
    return _rebuild(adj, dead, counts, dst_map=dst_map)


# --- identical branches --------------------------------------------------------------------------


def _fold_repeats(adj: _Adjacency) -> Graph | None:
    nodes, edges = adj.graph.nodes, adj.graph.edges
    n, src, out_deg, pinned = adj.n, adj.src, adj.out_deg, adj.pinned
    in_start, in_edges = adj.in_start, adj.in_edges
    order = adj.topological()
    if order is None:  # a cycle: not an autograd graph
        return None
    exclusive = bytearray(n)
    for v in range(n):
        if out_deg[v] == 1 and v not in pinned:
            exclusive[v] = 1
    # Is there any consumer with two exclusive inputs along edges of one kind? Else, done.
    fan = [0] * n
    candidate = False
    for e in range(len(src)):
        if exclusive[src[e]]:
            d = adj.dst[e]
            fan[d] += 1
            if fan[d] > 1:
                candidate = True
    if not candidate:
        return None
    keys = list(map(_shape_key, nodes))
    sig = [0] * n
    for v in order:
        ins = in_edges[in_start[v] : in_start[v + 1]]
        if ins:
            sig[v] = hash(
                (
                    keys[v],
                    nodes[v].count,
                    tuple(
                        (edges[e].kind, edges[e].slot, 1, sig[src[e]])
                        if exclusive[src[e]]
                        else (edges[e].kind, edges[e].slot, 0, src[e])
                        for e in ins
                    ),
                )
            )
        else:
            sig[v] = hash((keys[v], nodes[v].count))
    counts = [node.count for node in nodes]
    dead = bytearray(n)

    def branch(v: int) -> list[int]:
        out, stack = [], [v]
        while stack:
            u = stack.pop()
            out.append(u)
            stack.extend(
                src[e] for e in in_edges[in_start[u] : in_start[u + 1]] if exclusive[src[e]]
            )
        return out

    def same(a: int, b: int) -> bool:
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

    folded = False
    for c in reversed(order):  # consumers before their inputs: outer repeats first
        if dead[c] or fan[c] < 2:
            continue
        groups: dict[tuple[str, int], list[int]] = {}
        for e in in_edges[in_start[c] : in_start[c + 1]]:
            s = src[e]
            if exclusive[s]:
                groups.setdefault((edges[e].kind, sig[s]), []).append(s)
        for group in groups.values():
            if len(group) < 2:
                continue
            rep = group[0]
            copies = [s for s in group[1:] if same(rep, s)]
            if not copies:
                continue
            for s in copies:
                for u in branch(s):
                    dead[u] = 1
            for u in branch(rep):
                counts[u] *= len(copies) + 1
            folded = True
    return _rebuild(adj, dead, counts) if folded else None


# --- identical blocks in series ------------------------------------------------------------------

_SPINE: Final = -1
_CLOSED: Final = -2
_REF: Final = -3
_PINNED: Final = -4
_SHARED: Final = -5


def _fold_series(adj: _Adjacency, max_period: int = MAX_PERIOD) -> Graph | None:
    """Blocks in series; when none fold, again with the most-read and most-fed nodes set apart
    (`_fold_series_apart`)."""
    if adj.n < 3 or adj.topological() is None:
        return None
    folded = _fold_series_apart(adj, max_period, 0)
    if folded is not None:
        return folded
    for threshold in _fan_thresholds(adj)[:_APART_TRIES]:
        folded = _fold_series_apart(adj, max_period, threshold)
        if folded is not None:
            return folded
    return None


_APART_TRIES: Final = 3
"""How many fan thresholds `_fold_series` tries, largest first."""


def _fan_thresholds(adj: _Adjacency) -> list[int]:
    """The distinct numbers of distinct consumers, and of distinct inputs, of 3 or more, largest
    first."""
    src, dst, out_start, out_edges = adj.src, adj.dst, adj.out_start, adj.out_edges
    fans = {
        len({dst[e] for e in out_edges[out_start[v] : out_start[v + 1]]})
        for v in range(adj.n)
        if adj.out_deg[v] >= 3
    }
    fans.update(len({src[e] for e in adj.ins(v)}) for v in range(adj.n) if adj.in_deg[v] >= 3)
    return sorted((f for f in fans if f >= 3), reverse=True)


def _fold_series_apart(adj: _Adjacency, max_period: int, fan: int) -> Graph | None:
    """`fold_series`, with ``fan`` > 0: nodes read by at least ``fan`` distinct consumers (a
    loop's input sliced per step by ``unbind``) and nodes fed by at least ``fan`` distinct
    inputs (the ``stack`` of a loop's outputs) are set apart: their edges to or from other nodes
    are left out of the blocks, each block refers to them by identity, and they are folded as
    blocks of their own."""
    nodes, edges = adj.graph.nodes, adj.graph.edges
    n, src, dst, pinned = adj.n, adj.src, adj.dst, adj.pinned
    in_start, in_edges = adj.in_start, adj.in_edges
    out_start, out_edges = adj.out_start, adj.out_edges
    order = adj.topological()
    assert order is not None  # checked by _fold_series
    # 0. Shared nodes: two or more distinct consumers, all inputs shared; roots never.
    shared = bytearray(n)
    for v in order:
        if adj.out_deg[v] < 2 or v in pinned:
            continue
        if any(not shared[src[e]] for e in in_edges[in_start[v] : in_start[v + 1]]):
            continue
        outs = out_edges[out_start[v] : out_start[v + 1]]
        if any(dst[e] != dst[outs[0]] for e in outs):
            shared[v] = 1
    # Set apart (fan > 0): edges out of nodes with ``fan`` consumers or more, and into nodes with
    # ``fan`` inputs or more, are cut; blocks refer to their far ends by identity.
    cut = bytearray(len(src))
    collector = bytearray(n)
    if fan:
        for v in range(n):
            if adj.in_deg[v] >= fan and len({src[e] for e in adj.ins(v)}) >= fan:
                collector[v] = 1
                for e in adj.ins(v):
                    cut[e] = 1
            outs = out_edges[out_start[v] : out_start[v + 1]]
            if len(outs) >= fan and not shared[v] and len({dst[e] for e in outs}) >= fan:
                for e in outs:
                    cut[e] = 1
    live_out = adj.out_deg[:]  # consumers along edges that are not cut
    for e in compress(range(len(src)), cut):
        live_out[src[e]] -= 1
    # 1. Depth-first forest over inputs (shared nodes and cut edges left out), from the roots,
    # then the other sinks: post-order positions, tree parents, subtree sizes. The subtree of v
    # is the interval [pos - size + 1, pos] of post-order positions.
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
    # 2. Closed nodes: no edge enters the subtree from outside, none leaves it but from its top.
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
    # Closed parent (nearest closed ancestor) and spine (largest closed child) of closed nodes.
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
    # 3. Paths along spines from their outermost node, outer paths first; only long ones.
    paths: list[list[int]] = []
    for v in reversed(post):
        if not closed[v] or spine[v] < 0 or (cparent[v] >= 0 and spine[cparent[v]] == v):
            continue
        path = [v]
        while spine[path[-1]] >= 0:
            path.append(spine[path[-1]])
        if len(path) >= 3:
            paths.append(path)
    if not paths:
        return None
    # Side branches (closed, not a spine) and all closed nodes inside them need a signature.
    needed = bytearray(n)
    for v in reversed(post):
        c = cparent[v]
        if closed[v] and c >= 0 and (spine[c] != v or needed[c]):
            needed[v] = 1
    table: dict[tuple[int, ...], int] = {}
    descs: dict[tuple[object, ...], int] = {}
    full = [-1] * n

    def describe(u: int) -> int:
        node = nodes[u]
        ins = in_edges[in_start[u] : in_start[u + 1]]
        key = (_shape_key(node), node.count, tuple((edges[e].kind, edges[e].slot) for e in ins))
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

    for v in post:  # nested side branches first
        if needed[v]:
            full[v] = encode(v, -1)
    # 4. Periodic runs of block signatures along each path.
    counts = [node.count for node in nodes]
    dead = bytearray(n)
    src_map: dict[int, int] = {}

    def between(outer: int, inner: int) -> Iterable[int]:
        """Nodes upstream of ``outer`` but not of ``inner`` (a closed node inside it)."""
        lo, hi = pos[inner] - size[inner] + 1, pos[inner] + 1
        return chain(post[pos[outer] - size[outer] + 1 : lo], post[hi : pos[outer] + 1])

    for path in paths:
        if dead[path[0]]:
            continue  # inside a block that an outer path dropped
        seq = [encode(v, spine[v]) for v in path]
        for i, p, reps in _periodic_runs(seq, max_period):
            keep, first_drop, next_kept = path[i], path[i + p], path[i + reps * p]
            for u in between(first_drop, next_kept):
                dead[u] = 1
            for u in between(keep, first_drop):
                counts[u] *= reps
            src_map[first_drop] = next_kept
    return _rebuild(adj, dead, counts, src_map=src_map) if src_map else None


def _periodic_runs(seq: list[int], max_period: int) -> list[tuple[int, int, int]]:
    """``(start, period, repeats)`` of non-overlapping runs where ``seq`` repeats itself.

    Smallest periods first. The last item never belongs to a run: it is the bottom of a path,
    whose block has no spine input to feed the kept blocks.
    """
    free = [(0, len(seq) - 1)]  # half-open intervals of positions not in a run yet
    runs: list[tuple[int, int, int]] = []
    for p in range(1, max_period + 1):
        left: list[tuple[int, int]] = []
        for lo, hi in free:
            i = lo
            while i + p < hi:
                if seq[i] != seq[i + p]:
                    i += 1
                    continue
                j = i
                while j + p < hi and seq[j] == seq[j + p]:
                    j += 1
                reps = (j - i) // p + 1  # the run is seq[i : i + reps * p], within [lo, hi)
                if reps < 2:
                    i = j + 1
                    continue
                runs.append((i, p, reps))
                if i > lo:
                    left.append((lo, i))
                lo = i = i + reps * p
            if hi - lo > 2 * p:
                left.append((lo, hi))
        free = left
        if not free:
            break
    return runs
