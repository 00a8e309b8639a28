"""Compare two graphs by structure: which nodes were added, removed or changed.

Ids say nothing across graphs (``n7`` is whatever the walk met seventh), so nodes are matched by
what they are and where they sit: the roots by position, nodes whose name is unique in both
graphs by name, then, from every matched pair, the inputs that sit at the same slot and the
consumers that take them at the same slot, as long as both are alike (`alike`: same kind and
op, no two different names or modules). What stays unmatched was added (in B only) or removed
(in A only). A matched pair whose shape, dtype, name or gradient differs is changed.

Pure and torch-free: two `Graph`s in, a `Comparison` out.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from ..model import Edge, Graph, Node, TensorStats

__all__ = ["RELATIVE_TOLERANCE", "Change", "Comparison", "GradChange", "alike", "compare"]

RELATIVE_TOLERANCE: Final = 1e-5
"""Two gradient norms closer than this (relative) are the same: float32 sums reorder."""


@dataclass(frozen=True, slots=True)
class GradChange:
    """How the gradient at a matched node changed from A to B."""

    a: TensorStats | None
    b: TensorStats | None
    ratio: float | None
    """``|B| / |A|``, the ratio of the norms; None when either is missing or A's is 0."""
    sign_flips: int | None
    """Entries whose sign is opposite in A and B (zeros aside); None unless both gradients
    kept their values (at most 64 entries) and have as many."""
    nan_appeared: bool
    """B's gradient has NaN entries and A's has none."""
    inf_appeared: bool
    """B's gradient has Inf entries and A's has none."""


@dataclass(frozen=True, slots=True)
class Change:
    """A node matched in both graphs whose fields differ."""

    a: Node
    b: Node
    fields: tuple[str, ...]
    """What differs, of ``name``, ``shape``, ``dtype`` and ``grad``."""
    grad: GradChange | None = None
    """Present when ``grad`` is among the fields."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """What `compare` found between graph A and graph B."""

    a: Graph
    b: Graph
    matched: tuple[tuple[str, str], ...]
    """(id in A, id in B) of every matched pair, in A's node order."""
    added: tuple[Node, ...]
    """Nodes of B with no match in A, in B's order."""
    removed: tuple[Node, ...]
    """Nodes of A with no match in B, in A's order."""
    changed: tuple[Change, ...]
    """Matched nodes whose fields differ, in B's order."""
    edges_added: tuple[Edge, ...]
    """Edges of B with no counterpart in A (between the matched nodes of the two edges' ends,
    at the same slot), in B's order."""
    edges_removed: tuple[Edge, ...]
    """Edges of A with no counterpart in B, in A's order."""

    @property
    def same_structure(self) -> bool:
        """Every node and every edge has its counterpart."""
        return not (self.added or self.removed or self.edges_added or self.edges_removed)


def alike(a: Node, b: Node) -> bool:
    """Whether ``a`` and ``b`` may be the same node of two runs: same kind and op, and neither
    two different names nor two different modules (a missing one matches any)."""
    return (
        a.kind == b.kind
        and a.op == b.op
        and (a.name is None or b.name is None or a.name == b.name)
        and (a.module is None or b.module is None or a.module == b.module)
    )


def compare(a: Graph, b: Graph) -> Comparison:
    """Match the nodes of ``a`` and ``b`` by structure and list what differs."""
    side_a, side_b = _Side(a), _Side(b)
    pairs = _Matcher(side_a, side_b).run()  # index in A -> index in B, or -1
    nodes_a, nodes_b = side_a.nodes, side_b.nodes
    in_b = [-1] * len(nodes_b)
    for i, j in enumerate(pairs):
        if j >= 0:
            in_b[j] = i
    changed = []
    for j, i in enumerate(in_b):
        if i >= 0:
            change = _change(nodes_a[i], nodes_b[j])
            if change is not None:
                changed.append(change)
    ids = {nodes_a[i].id: nodes_b[j].id for i, j in enumerate(pairs) if j >= 0}
    edges_removed, edges_added = _edge_changes(a, b, ids)
    return Comparison(
        a=a,
        b=b,
        matched=tuple(ids.items()),
        added=tuple(node for node, i in zip(nodes_b, in_b, strict=True) if i < 0),
        removed=tuple(node for node, j in zip(nodes_a, pairs, strict=True) if j < 0),
        changed=tuple(changed),
        edges_added=edges_added,
        edges_removed=edges_removed,
    )


End = tuple[int | None, str, str | None, int]
"""An edge seen from one of its ends: its slot and kind, the op and the index of the node at
its other end."""
Slot = tuple[int | None, str, str | None, int]
"""Where an edge sits at one of its ends: its slot and kind, the op at its other end, and how
many edges with these three came before it there."""


class _Side:
    """One graph, by node index: its nodes, and each node's inputs and consumers by `Slot`."""

    def __init__(self, graph: Graph) -> None:
        self.nodes = graph.nodes
        self.roots = graph.roots
        index = {node.id: i for i, node in enumerate(self.nodes)}
        self.index = index
        ops = [node.op for node in self.nodes]
        ins: list[list[End]] = [[] for _ in ops]
        outs: list[list[End]] = [[] for _ in ops]
        for edge in graph.edges:
            src, dst = index[edge.src], index[edge.dst]
            ins[dst].append((edge.slot, edge.kind, ops[src], src))
            outs[src].append((edge.slot, edge.kind, ops[dst], dst))
        self.ins, self.outs = ins, outs


def _keyed(ends: list[End]) -> dict[Slot, int]:
    """The other end of each edge at a node (slot, kind, its op, its index), by `Slot`."""
    if len(ends) == 1:  # most nodes of most graphs: one input, one consumer
        slot, kind, op, other = ends[0]
        return {(slot, kind, op, 0): other}
    seen: dict[tuple[int | None, str, str | None], int] = {}
    out: dict[Slot, int] = {}
    for slot, kind, op, other in ends:
        before = seen.get((slot, kind, op), 0)
        out[(slot, kind, op, before)] = other
        seen[(slot, kind, op)] = before + 1
    return out


class _Matcher:
    """Grows a matching from seeds (roots, unique names) along edges, breadth-first."""

    def __init__(self, a: _Side, b: _Side) -> None:
        self.a, self.b = a, b
        self.pairs = [-1] * len(a.nodes)  # index in A -> index in B
        self.taken = [False] * len(b.nodes)  # index in B -> matched yet
        self.queue: deque[tuple[int, int]] = deque()

    def match(self, i: int, j: int) -> None:
        self.pairs[i] = j
        self.taken[j] = True
        self.queue.append((i, j))

    def free(self, i: int, j: int) -> bool:
        return self.pairs[i] < 0 and not self.taken[j] and alike(self.a.nodes[i], self.b.nodes[j])

    def run(self) -> list[int]:
        a, b = self.a, self.b
        for ra, rb in zip(a.roots, b.roots, strict=False):
            i, j = a.index[ra], b.index[rb]
            x, y = a.nodes[i], b.nodes[j]
            # A root may be renamed (the name is reported as changed), not retyped.
            if self.pairs[i] < 0 and not self.taken[j] and (x.kind, x.op) == (y.kind, y.op):
                self.match(i, j)
        named_b = _unique_names(b.nodes)
        for name, i in _unique_names(a.nodes).items():
            j = named_b.get(name, -1)
            if j >= 0 and self.free(i, j):
                self.match(i, j)
        self.spread()
        # What the edges did not reach (a part cut off by a change): match what is alike and
        # unique among the rest by (kind, op, name, shape), then spread from there.
        rest_b = _unique_keys(b.nodes, self.taken)
        for key, i in _unique_keys(a.nodes, [j >= 0 for j in self.pairs]).items():
            j = rest_b.get(key, -1)
            if j >= 0 and self.free(i, j):
                self.match(i, j)
        self.spread()
        return self.pairs

    def spread(self) -> None:
        a, b, free, match = self.a, self.b, self.free, self.match
        while self.queue:
            i, j = self.queue.popleft()
            for ends_a, ends_b in ((a.ins[i], b.ins[j]), (a.outs[i], b.outs[j])):
                if not ends_a or not ends_b:
                    continue
                others = _keyed(ends_b)
                for key, x in _keyed(ends_a).items():
                    y = others.get(key, -1)
                    if y >= 0 and free(x, y):
                        match(x, y)


def _unique_names(nodes: tuple[Node, ...]) -> dict[str, int]:
    """Name -> node index, for the names that only one node carries."""
    # saved tensors are left out: their names (self, other, result) recur by design
    return _unique(None if n.name is None or n.kind == "saved" else n.name for n in nodes)


def _unique_keys(nodes: tuple[Node, ...], matched: list[bool]) -> dict[tuple[object, ...], int]:
    """(kind, op, name, shape) -> index, for the unmatched nodes that are alone with theirs."""
    return _unique(
        None if done else (n.kind, n.op, n.name, n.shape)
        for n, done in zip(nodes, matched, strict=True)
    )


_K = TypeVar("_K", bound=Hashable)


def _unique(keys: Iterable[_K | None]) -> dict[_K, int]:
    """Key -> position, for the keys that only one position has (None: a position left out)."""
    found: dict[_K, int] = {}
    twice: set[_K] = set()
    for i, key in enumerate(keys):
        if key is None:
            continue
        if key in found:
            twice.add(key)
        found[key] = i
    return {key: i for key, i in found.items() if key not in twice}


def _change(a: Node, b: Node) -> Change | None:
    fields = [name for name in ("name", "shape", "dtype") if getattr(a, name) != getattr(b, name)]
    grad = _grad_change(a.grad, b.grad)
    if grad is not None:
        fields.append("grad")
    return Change(a, b, tuple(fields), grad) if fields else None


def _grad_change(a: TensorStats | None, b: TensorStats | None) -> GradChange | None:
    """How the gradient changed, or None when it did not."""
    if a is None and b is None:
        return None
    ratio = flips = None
    if a is not None and b is not None:
        if a.norm is not None and b.norm is not None and a.norm > 0:
            ratio = b.norm / a.norm
        if a.values is not None and b.values is not None and len(a.values) == len(b.values):
            flips = sum(x * y < 0 for x, y in zip(a.values, b.values, strict=True))
    nan_appeared = b is not None and b.nan > 0 and (a is None or a.nan == 0)
    inf_appeared = b is not None and b.inf > 0 and (a is None or a.inf == 0)
    same = (
        a is not None
        and b is not None
        and (a.nan, a.inf) == (b.nan, b.inf)
        and not flips
        and _close(a.norm, b.norm)
        and (a.values is None or b.values is None or _all_close(a.values, b.values))
    )
    if same:
        return None
    return GradChange(a, b, ratio, flips, nan_appeared, inf_appeared)


def _close(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return math.isclose(x, y, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def _all_close(xs: tuple[float, ...], ys: tuple[float, ...]) -> bool:
    if len(xs) != len(ys):
        return False
    scale = max((abs(v) for v in (*xs, *ys) if math.isfinite(v)), default=0.0)
    return all(
        x == y or (math.isnan(x) and math.isnan(y)) or abs(x - y) <= RELATIVE_TOLERANCE * scale
        for x, y in zip(xs, ys, strict=True)
    )


def _edge_changes(
    a: Graph, b: Graph, pairs: dict[str, str]
) -> tuple[tuple[Edge, ...], tuple[Edge, ...]]:
    """A's edges with no counterpart in B, and B's with none in A: an edge's counterpart joins
    the matches of its ends, at the same slot, with the same kind."""
    wanted = Counter(
        (pairs[e.src], pairs[e.dst], e.slot, e.kind)
        for e in a.edges
        if e.src in pairs and e.dst in pairs
    )
    present = Counter((e.src, e.dst, e.slot, e.kind) for e in b.edges)
    left = present - wanted  # B edges without an A counterpart, by key
    missing = wanted - present  # A edges without a B counterpart, by key
    added = []
    for e in b.edges:
        key = (e.src, e.dst, e.slot, e.kind)
        if left[key] > 0:
            left[key] -= 1
            added.append(e)
    removed = []
    for e in a.edges:
        if e.src not in pairs or e.dst not in pairs:
            removed.append(e)
            continue
        key = (pairs[e.src], pairs[e.dst], e.slot, e.kind)
        if missing[key] > 0:
            missing[key] -= 1
            removed.append(e)
    return tuple(removed), tuple(added)
