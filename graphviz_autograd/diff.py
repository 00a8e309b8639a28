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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .model import Edge, Graph, Node, TensorStats

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
    matcher = _Matcher(a, b)
    pairs = matcher.run()
    in_b = {bid: aid for aid, bid in pairs.items()}
    matched = tuple((node.id, pairs[node.id]) for node in a.nodes if node.id in pairs)
    changed = []
    for node in b.nodes:
        if node.id in in_b:
            change = _change(a.node(in_b[node.id]), node)
            if change is not None:
                changed.append(change)
    edges_removed, edges_added = _edge_changes(a, b, pairs)
    return Comparison(
        a=a,
        b=b,
        matched=matched,
        added=tuple(n for n in b.nodes if n.id not in in_b),
        removed=tuple(n for n in a.nodes if n.id not in pairs),
        changed=tuple(changed),
        edges_added=edges_added,
        edges_removed=edges_removed,
    )


class _Matcher:
    """Grows a matching from seeds (roots, unique names) along edges, breadth-first."""

    def __init__(self, a: Graph, b: Graph) -> None:
        self.a, self.b = a, b
        self.pairs: dict[str, str] = {}  # id in A -> id in B
        self.taken: set[str] = set()  # ids in B already matched
        self.queue: deque[tuple[str, str]] = deque()
        self.a_in, self.a_out = _adjacency(a.edges)
        self.b_in, self.b_out = _adjacency(b.edges)

    def match(self, x: Node, y: Node) -> None:
        self.pairs[x.id] = y.id
        self.taken.add(y.id)
        self.queue.append((x.id, y.id))

    def free(self, x: Node, y: Node) -> bool:
        return x.id not in self.pairs and y.id not in self.taken and alike(x, y)

    def run(self) -> dict[str, str]:
        a, b = self.a, self.b
        for ra, rb in zip(a.roots, b.roots, strict=False):
            x, y = a.node(ra), b.node(rb)
            # A root may be renamed (the name is reported as changed), not retyped.
            if (
                x.id not in self.pairs
                and y.id not in self.taken
                and (x.kind, x.op)
                == (
                    y.kind,
                    y.op,
                )
            ):
                self.match(x, y)
        named_b = _unique_names(b.nodes)
        for name, x in _unique_names(a.nodes).items():
            named = named_b.get(name)
            if named is not None and self.free(x, named):
                self.match(x, named)
        self.spread()
        # What the edges did not reach (a part cut off by a change): match what is alike and
        # unique among the rest by (kind, op, name, shape), then spread from there.
        rest_a = _unique_keys(n for n in a.nodes if n.id not in self.pairs)
        rest_b = _unique_keys(n for n in b.nodes if n.id not in self.taken)
        for key, x in rest_a.items():
            alone = rest_b.get(key)
            if alone is not None and self.free(x, alone):
                self.match(x, alone)
        self.spread()
        return self.pairs

    def spread(self) -> None:
        a, b = self.a, self.b
        while self.queue:
            xa, yb = self.queue.popleft()
            for ins_a, ins_b, end in ((self.a_in, self.b_in, 0), (self.a_out, self.b_out, 1)):
                others = _keyed(ins_b.get(yb, ()), b, end)
                for key, edge in _keyed(ins_a.get(xa, ()), a, end).items():
                    match = others.get(key)
                    if match is None:
                        continue
                    x, y = a.node(_end(edge, end)), b.node(_end(match, end))
                    if self.free(x, y):
                        self.match(x, y)


def _adjacency(edges: Iterable[Edge]) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
    """Edges by destination (each node's inputs) and by source (its consumers)."""
    ins: dict[str, list[Edge]] = {}
    outs: dict[str, list[Edge]] = {}
    for edge in edges:
        ins.setdefault(edge.dst, []).append(edge)
        outs.setdefault(edge.src, []).append(edge)
    return ins, outs


def _keyed(edges: Iterable[Edge], graph: Graph, end: int) -> dict[tuple[object, ...], Edge]:
    """Edges at one node keyed by where they sit: the slot and kind, the op at the other end
    (``end``: 0 the source, 1 the destination) and how many such edges came before."""
    seen: Counter[tuple[object, ...]] = Counter()
    out: dict[tuple[object, ...], Edge] = {}
    for edge in edges:
        base = (edge.slot, edge.kind, graph.node(_end(edge, end)).op)
        out[(*base, seen[base])] = edge
        seen[base] += 1
    return out


def _end(edge: Edge, end: int) -> str:
    """The source (``end`` 0) or the destination (1) of ``edge``."""
    return edge.dst if end else edge.src


def _unique_names(nodes: Iterable[Node]) -> dict[str, Node]:
    """Name -> node, for the names that only one node carries."""
    found: dict[str, Node] = {}
    twice: set[str] = set()
    for node in nodes:
        if node.name is None or node.kind == "saved":  # saved tensors: self, other, result
            continue
        if node.name in found:
            twice.add(node.name)
        found[node.name] = node
    return {name: node for name, node in found.items() if name not in twice}


def _unique_keys(nodes: Iterable[Node]) -> dict[tuple[object, ...], Node]:
    found: dict[tuple[object, ...], Node] = {}
    twice: set[tuple[object, ...]] = set()
    for node in nodes:
        key = (node.kind, node.op, node.name, node.shape)
        if key in found:
            twice.add(key)
        found[key] = node
    return {key: node for key, node in found.items() if key not in twice}


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
