"""Compiled regions, opened: each ``CompiledFunctionBackward`` node's backward graph (`regions`)
spliced into the eager graph around it, in a box of its own.

Drawn as the eager graph is, arrows from inputs towards the loss, gradients flowing against
them: the region's node stays, as the gradient flowing into the region from outside (its
``tangents``); each aten op of its backward graph is an ``op`` node with an arrow to each value
it reads; each saved activation is a ``saved`` node, named by the forward op that made it; each
forward input the region saved (a parameter, say) is its eager node, with a saved edge to the
ops that read it; and the edge from each input of the region goes into the op that computes its
gradient. All of the region's nodes are in the module box ``[compiled NAME]``, inside the box
of the module that called it, and in the boxes of the modules that made them inside that.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model import REGION_MARK, Edge, EdgeKind, Graph, Node, SavedTensor
from .regions import Region, Unopened, Value

__all__ = ["open_regions", "region_path"]


def region_path(outer: str | None, label: str, number: int | None) -> str:
    """The module path of a region's box: ``[compiled f]`` or ``[compiled f 2]`` (a graph
    break's second region) inside the box ``outer`` of the module that called it."""
    segment = REGION_MARK + (f" {label}" if label else "") + (f" {number}" if number else "") + "]"
    return f"{outer}.{segment}" if outer else segment


def open_regions(graph: Graph, regions: Mapping[int, Region | Unopened]) -> Graph:
    """``graph`` with each region node at index ``i`` (``regions[i]``) opened; a region that
    cannot be opened says why in its node's name. Never raises: where gradviz fails to open
    them, the regions stay closed and a note says why (the user's backward call goes on)."""
    if not regions:
        return graph
    try:
        return _opened(graph, regions)
    except Exception as exc:  # noqa: BLE001 - a drawing aid must not break the user's script
        why = f"compiled regions not opened: gradviz failed ({type(exc).__name__}: {exc})"
        return graph.replace(notes=(*graph.notes, why))


def _opened(graph: Graph, regions: Mapping[int, Region | Unopened]) -> Graph:
    nodes, edges = list(graph.nodes), list(graph.edges)
    numbers = _numbers(nodes, regions)
    names = {node.id: node.name for node in nodes}  # an input's name, for what the region saved
    notes: list[str] = []
    drop: set[str] = set()
    for index in sorted(regions):
        region = regions[index]
        if isinstance(region, Unopened):
            head = nodes[index]
            nodes[index] = head._replace(name=f"not opened: {region.why}")
            notes.append(f"compiled region {head.id} not opened: {region.why}")
            continue
        _Splice(nodes, edges, names, drop, index, region, numbers.get(index)).run()
        if not region.traced:
            notes.append(
                f"compiled region {nodes[index].id} not traced in this run (from the compile "
                "cache, or compiled before capture): its ops without shapes"
            )
    if drop:
        nodes = [n for n in nodes if n.id not in drop]
        edges = [e for e in edges if e.src not in drop]
    return graph.replace(nodes=tuple(nodes), edges=tuple(edges), notes=graph.notes + tuple(notes))


def _numbers(nodes: list[Node], regions: Mapping[int, Region | Unopened]) -> dict[int, int]:
    """Node index -> its number among the regions of the same name in the same module (a
    graph break makes several), when there are several: numbered in the order they were
    compiled, which is the order they first ran."""
    groups: dict[tuple[str | None, str], list[tuple[int, int]]] = {}
    for index, region in regions.items():
        if isinstance(region, Region):
            key = (nodes[index].module, region.label)
            groups.setdefault(key, []).append((region.order, index))
    numbers: dict[int, int] = {}
    for members in groups.values():
        if len(members) > 1:
            for k, (_, index) in enumerate(sorted(members), start=1):
                numbers[index] = k
    return numbers


class _Splice:
    """One region spliced into the lists ``nodes`` and ``edges``."""

    def __init__(
        self,
        nodes: list[Node],
        edges: list[Edge],
        names: dict[str, str | None],
        drop: set[str],
        index: int,
        region: Region,
        number: int | None,
    ) -> None:
        self.nodes, self.edges, self.region = nodes, edges, region
        self.names = names  # node id -> name, of every node so far
        self.drop = drop  # ids of nodes to leave out: saved copies of inputs drawn already
        self.head = nodes[index]
        self.index = index
        self.path = region_path(self.head.module, region.label, number)
        self.ids: dict[str, str] = {}  # FX name -> node id
        self.values = {v.name: v for v in region.values}
        # What fed each input slot of the region's node: those edges lead to it.
        head = self.head.id
        self.slots = {
            e.slot: (k, e) for k, e in enumerate(edges) if e.dst == head and e.kind == "data"
        }
        self.new_edges: dict[tuple[str, str, EdgeKind], None] = {}

    def run(self) -> None:
        """Splice the region in."""
        # Its ops hold what the region saved now, not its node (`show_saved`).
        self.nodes[self.index] = self.head._replace(module=self.path, saved=())
        kept = self._kept()
        for value in self.region.values:
            if value.role == "tangent":
                self.ids[value.name] = self.head.id
            elif value.role == "saved" and value.name in kept:
                self._reuse(value, kept[value.name])
            elif value.role == "saved":
                self._add(value, Node("", "saved", name=value.name, requires_grad=False))
            elif value.role == "primal":
                self._primal(value, kept.get(value.name))
        claimed: set[str] = set()
        for value in self.region.values:
            if value.role == "op":
                self._add(value, self._op_node(value, claimed))
        for value in self.region.values:
            if value.role == "op":
                self._reads(value)
        self._inputs()
        self.edges.extend(Edge(src=s, dst=d, kind=kind) for s, d, kind in self.new_edges)
        if kept:  # the saved edges into the region's node now go into the ops that read them
            gone = {(node_id, self.head.id) for node_id in kept.values()}
            self.edges[:] = [e for e in self.edges if (e.src, e.dst) not in gone]

    def _kept(self) -> dict[str, str]:
        """With ``show_saved``, the walk drew what the region's node saved (its
        ``saved_tensors``, in the order of the backward graph's saved placeholders): FX name ->
        that node's id, for each saved activation, when the counts agree."""
        head = self.head.id
        drawn = [e.src for e in self.edges if e.dst == head and e.kind == "saved"]
        wanted = [v for v in self.region.values if v.role in ("saved", "primal")]
        if not drawn or len(drawn) != len(wanted):
            return {}
        return {v.name: src for v, src in zip(wanted, drawn, strict=True)}

    def _reuse(self, value: Value, node_id: str, name: str | None = None) -> None:
        """A saved tensor the walk drew already: renamed, and moved into the region."""
        name = name or value.name
        self.ids[value.name] = node_id
        self.names[node_id] = name
        at = next(i for i in range(len(self.nodes) - 1, -1, -1) if self.nodes[i].id == node_id)
        self.nodes[at] = self.nodes[at]._replace(name=name, module=self._module(value.module))

    def _add(self, value: Value, record: Node) -> None:
        node_id, k = f"n{len(self.nodes)}", len(self.nodes)
        while node_id in self.names:  # ids not numbered in order: take a free one
            k += 1
            node_id = f"n{k}"
        self.ids[value.name] = node_id
        self.names[node_id] = record.name
        self.nodes.append(
            record._replace(
                id=node_id,
                shape=value.shape,
                dtype=value.dtype,
                module=self._module(value.module),
                source=value.source,
            )
        )

    def _module(self, inner: str | None) -> str:
        if not inner:
            return self.path
        if not self.region.label:  # a compiled module: its paths begin with its own name
            inner = inner.partition(".")[2]
        return f"{self.path}.{inner}" if inner else self.path

    def _primal(self, value: Value, drawn: str | None) -> None:
        """A forward input saved for backward: its eager node, when the walk met one (and the
        saved node the walk drew for it, ``drawn``, goes); else a saved node of its own."""
        fed = self.slots.get(value.slot)
        name = f"input {value.primal + 1}" if value.primal is not None else value.name
        if fed is not None:
            self.ids[value.name] = fed[1].src
            if drawn is not None:
                self.drop.add(drawn)
        elif drawn is not None:
            self._reuse(value, drawn, name)
        else:
            self._add(value, Node("", "saved", name=name, requires_grad=False))

    def _op_node(self, value: Value, claimed: set[str]) -> Node:
        """An op's record; the saved tensors it reads that no op before it claimed are its
        ``saved`` (so each one's bytes count once)."""
        saved = []
        for name in value.reads:
            read = self.values.get(name)
            if read is not None and read.role in ("saved", "primal") and name not in claimed:
                claimed.add(name)
                name_of = self._name_of(read)
                saved.append(SavedTensor(name_of, read.shape, read.dtype, read.bytes, freed=False))
        return Node("", "op", op=value.op, saved=tuple(saved))

    def _name_of(self, saved: Value) -> str:
        """A saved tensor's name: its node's (a saved activation's, or the input's)."""
        return self.names.get(self.ids.get(saved.name, ""), None) or saved.name

    def _reads(self, value: Value) -> None:
        """An arrow from the op to each op or gradient it reads; a saved edge into it from each
        saved tensor it reads."""
        me = self.ids[value.name]
        for name in value.reads:
            read = self.values.get(name)
            other = self.ids.get(name)
            if read is None or other is None:
                continue
            if read.role in ("op", "tangent"):
                self.new_edges[(me, other, "data")] = None
            else:
                self.new_edges[(other, me, "saved")] = None

    def _inputs(self) -> None:
        """Each edge into the region's node now goes into the op that makes its gradient."""
        for slot, (k, edge) in self.slots.items():
            if slot is None or slot >= len(self.region.outputs):
                continue
            grad = self.region.outputs[slot]
            value = self.values.get(grad) if grad is not None else None
            if value is not None and value.role == "op":
                self.edges[k] = edge._replace(dst=self.ids[value.name], slot=None, local=None)
