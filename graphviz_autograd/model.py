"""The graph model: immutable, torch-free records of what autograd built.

A `Graph` is plain data. It holds no tensor and no autograd node, only summaries, so it can be
kept, compared, serialised and rendered long after the tensors it describes are gone. Its
records (`Node`, `Edge`, ...) are defined in `records` and imported from here.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain, repeat
from operator import add, attrgetter, itemgetter
from typing import Any, Final, NamedTuple, TypeAlias

from .records import (
    NODE_KINDS,
    OP_SHAPES_UP_TO,
    Edge,
    EdgeKind,
    Node,
    NodeKind,
    SavedTensor,
    Source,
    TensorStats,
)

__all__ = [
    "CHECKPOINT_OP",
    "COMPILED_OP",
    "NODE_KINDS",
    "Columns",
    "OP_SHAPES_UP_TO",
    "REGION_MARK",
    "Edge",
    "EdgeKind",
    "EdgeRow",
    "Graph",
    "Node",
    "NodeKind",
    "SavedEdge",
    "SavedTensor",
    "Source",
    "TensorStats",
    "region_of",
]


CHECKPOINT_OP: Final = "CheckpointFunctionBackward"
"""The node of a reentrant checkpoint (``checkpoint(fn, x, use_reentrant=True)``). It stands for
every op ``fn`` ran, and those ops and the parameters they use are not in the graph."""

COMPILED_OP: Final = "CompiledFunctionBackward"
"""The node of a ``torch.compile``d region in the eager graph. Opened (`trace.opened`), it stands
for the gradient flowing into the region, and the region's ops are nodes of their own."""

REGION_MARK: Final = "[compiled"
"""How the module path segment of a compiled region's box begins: ``[compiled f]``,
``model.[compiled]``."""


def region_of(module: str | None) -> str | None:
    """The module path of the compiled region a node with module path ``module`` is in, if
    any: ``model.[compiled].0`` -> ``model.[compiled]``."""
    if not module or REGION_MARK not in module:
        return None
    start = module.index(REGION_MARK)
    end = module.find("]", start)
    return module[: end + 1] if end >= 0 else module


class SavedEdge(NamedTuple):
    """A saved edge of a graph in `Columns`: node ``src``, a saved tensor, was saved by op
    ``dst``. Named like `Edge`'s ends, so one getter reads either."""

    src: int
    dst: int


class Columns(NamedTuple):
    """A graph in the compact form a walk makes: node ``i`` has the id ``n{i}``."""

    nodes: list[Node]
    """Each node's record with a blank id (``""``), in node order; nodes alike share one."""
    src: list[int]
    """Data edge ``k`` goes from node ``src[k]`` ..."""
    dst: list[int]
    """... into node ``dst[k]`` ..."""
    slots: list[int]
    """... at its input slot ``slots[k]``."""
    saved: list[SavedEdge]
    """Saved edges."""


EdgeRow: TypeAlias = tuple[str, str, "int | None", EdgeKind, "TensorStats | None", "float | None"]
"""An edge's fields: what an `Edge` holds, as a plain tuple."""


class Graph:
    """Nodes in id order, edges in walk order, and the ids of the roots (the outputs walked).

    Immutable: make a changed copy with `replace`. A walked graph keeps compact `Columns` and
    makes its `Node` and `Edge` records the first time ``nodes`` or ``edges`` is read, so a
    walk costs little more than visiting each autograd node once. Renderers that read each
    node once go through `rows` and `edge_rows`, which never make records.
    """

    __match_args__ = ("nodes", "edges", "roots", "notes", "first_nonfinite", "saved_bytes")
    __slots__ = (
        "_nodes",
        "_edges",
        "_columns",
        "_ids",
        "roots",
        "notes",
        "first_nonfinite",
        "saved_bytes",
        "_index",
    )

    _nodes: tuple[Node, ...]
    _edges: tuple[Edge, ...]
    _columns: Columns | None
    _ids: list[str] | None
    _index: dict[str, int] | None
    roots: tuple[str, ...]
    notes: tuple[str, ...]
    """Sentences about the graph as drawn, e.g. what folding did and how to undo it."""
    first_nonfinite: str | None
    """The node whose gradient was the first NaN/Inf in backward order (captured graphs)."""
    saved_bytes: int | None
    """Bytes held by saved tensors, each storage counted once (``show_saved``)."""

    def __init__(
        self,
        nodes: tuple[Node, ...],
        edges: tuple[Edge, ...],
        roots: tuple[str, ...],
        notes: tuple[str, ...] = (),
        first_nonfinite: str | None = None,
        saved_bytes: int | None = None,
    ) -> None:
        _set = object.__setattr__
        _set(self, "_nodes", nodes)
        _set(self, "_edges", edges)
        _set(self, "_columns", None)
        _set(self, "_ids", None)
        _set(self, "roots", roots)
        _set(self, "notes", notes)
        _set(self, "first_nonfinite", first_nonfinite)
        _set(self, "saved_bytes", saved_bytes)
        _set(self, "_index", None)

    @classmethod
    def from_columns(
        cls,
        columns: Columns,
        roots: tuple[str, ...],
        notes: tuple[str, ...] = (),
        saved_bytes: int | None = None,
    ) -> Graph:
        """A graph kept as ``columns`` until its records are first read."""
        graph = cls((), (), roots, notes, None, saved_bytes)
        object.__setattr__(graph, "_columns", columns)
        return graph

    def _node_ids(self, columns: Columns) -> list[str]:
        ids = self._ids
        if ids is None:
            ids = _numbered(len(columns.nodes))
            object.__setattr__(self, "_ids", ids)
        return ids

    @property
    def numbered(self) -> bool:
        """True when the node ids are known to be ``n0``, ``n1``, ... in node order (a walked
        graph whose records were not made yet), so a renderer need not check them."""
        return self._columns is not None

    def rows(self) -> tuple[list[str], Iterable[Node]]:
        """The node ids, and each node's record with a blank id (``""``), both in node order:
        nodes that differ only in id have equal records, which a renderer describes once."""
        columns = self._columns
        if columns is None:
            nodes = self._nodes
            return list(map(_ID, nodes)), _with_ids(repeat(""), nodes)
        return self._node_ids(columns), columns.nodes

    def column(self, name: str) -> Iterable[Any]:
        """One `Node` field (``"id"``, ``"kind"``, ``"grad"``, ...) of every node, in node order,
        without making records: for a renderer that needs a field or two of each node."""
        columns = self._columns
        if columns is not None and name == "id":
            return self._node_ids(columns)
        field = itemgetter(Node._fields.index(name))  # a third faster than attrgetter(name)
        return map(field, self._nodes if columns is None else columns.nodes)

    def edge_rows(self) -> Iterable[EdgeRow]:
        """Each edge's fields, in edge order."""
        columns = self._columns
        if columns is None:
            return self._edges
        sources, targets, kinds = self.edge_columns()
        slots = chain(columns.slots, repeat(None, len(columns.saved)))  # saved edges have none
        n = self.edge_count  # a walk records no flows along its edges: no grad, no local
        return zip(sources, targets, slots, kinds, repeat(None, n), repeat(None, n), strict=True)

    def edge_columns(self) -> tuple[Iterable[str], Iterable[str], Iterable[EdgeKind]]:
        """The sources, the destinations and the kinds of the edges, each in edge order: for a
        renderer that writes each edge once, without a tuple per edge."""
        columns = self._columns
        if columns is None:
            edges = self._edges
            return map(_SRC, edges), map(_DST, edges), map(_KIND, edges)
        name = self._node_ids(columns).__getitem__
        saved = columns.saved
        sources = chain(map(name, columns.src), map(name, map(_SRC, saved)))
        targets = chain(map(name, columns.dst), map(name, map(_DST, saved)))
        kinds = chain(repeat("data", len(columns.src)), repeat("saved", len(saved)))
        return sources, targets, kinds  # type: ignore[return-value]

    def _materialise(self, columns: Columns) -> None:
        # Thousands of new records and no garbage: a collection pass would only slow it.
        collecting = gc.isenabled()
        gc.disable()
        try:
            nodes = tuple(_with_ids(self._node_ids(columns), columns.nodes))
            # Built in C by map and zip, with no Python call per record.
            edges = tuple(map(_NEW, repeat(Edge), self.edge_rows()))
        finally:
            if collecting:
                gc.enable()
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_edges", edges)
        object.__setattr__(self, "_columns", None)
        object.__setattr__(self, "_ids", None)

    @property
    def nodes(self) -> tuple[Node, ...]:
        columns = self._columns
        if columns is not None:
            self._materialise(columns)
        return self._nodes

    @property
    def edges(self) -> tuple[Edge, ...]:
        columns = self._columns
        if columns is not None:
            self._materialise(columns)
        return self._edges

    def __len__(self) -> int:
        """The number of nodes (it makes no records)."""
        columns = self._columns
        return len(self._nodes) if columns is None else len(columns.nodes)

    @property
    def edge_count(self) -> int:
        """The number of edges (it makes no records)."""
        columns = self._columns
        return len(self._edges) if columns is None else len(columns.src) + len(columns.saved)

    def fans_in(self, inputs: int) -> bool:
        """Whether some node has at least ``inputs`` edges into it. A walked graph without
        saved tensors answers from its input slots when no op has that many, without counting
        edges: the data edges into a node come from distinct slots of its inputs."""
        columns = self._columns
        if (
            columns is not None
            and not columns.saved
            and max(columns.slots, default=-1) < inputs - 1
        ):
            return False
        return self.most_inputs() >= inputs

    def most_inputs(self) -> int:
        """The most edges into one node (0 without edges), counted without making records."""
        columns = self._columns
        if columns is None:
            ends: Iterable[Any] = map(_DST, self._edges)
        else:  # node numbers, not ids: no id is made
            ends = chain(columns.dst, map(_DST, columns.saved))
        return max(Counter(ends).values(), default=0)

    def replace(self, **changes: Any) -> Graph:
        """A copy with the given fields (``nodes``, ``edges``, ``roots``, ``notes``,
        ``first_nonfinite``, ``saved_bytes``) changed."""
        unknown = changes.keys() - set(self.__match_args__)
        if unknown:
            raise TypeError(f"Graph has no field {sorted(unknown)[0]!r}")
        values = {name: changes.get(name, getattr(self, name)) for name in self.__match_args__}
        return Graph(**values)

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError when there is none)."""
        index = self._index
        if index is None:
            index = {node.id: i for i, node in enumerate(self.nodes)}
            object.__setattr__(self, "_index", index)
        return self.nodes[index[node_id]]

    def inputs(self, node_id: str) -> tuple[Edge, ...]:
        """Edges that end at ``node_id``, in slot order."""
        return tuple(e for e in self.edges if e.dst == node_id)

    def outputs(self, node_id: str) -> tuple[Edge, ...]:
        """Edges that start at ``node_id``."""
        return tuple(e for e in self.edges if e.src == node_id)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"Graph({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Graph is immutable: use graph.replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Graph is immutable")

    def __reduce__(self) -> tuple[object, ...]:
        return (Graph, self._fields())


def _with_ids(ids: Iterable[str], nodes: Iterable[Node]) -> Iterator[Node]:
    """Each of ``nodes`` with the next of ``ids`` as its id: ``node._replace(id=...)``, made in
    C by map and zip, a third of its time (100,000 records: 33 ms, not 100 ms)."""
    return map(_NEW, repeat(Node), map(add, zip(ids), map(_AFTER_ID, nodes)))


def _numbered(n: int) -> list[str]:
    """``["n0", "n1", ...]``, ``n`` ids. The first `_KEPT_IDS` are made once per process and
    shared (strings are immutable): most graphs are small, and are drawn again and again."""
    if n > _KEPT_IDS:
        return [f"n{i}" for i in range(n)]  # faster than "n%d".__mod__
    if len(_IDS) < n:
        _IDS.extend(f"n{i}" for i in range(len(_IDS), n))
    return _IDS[:n]


_KEPT_IDS: Final = 4096
_IDS: list[str] = []

_ID: Final = attrgetter("id")
_SRC: Final = attrgetter("src")  # of an `Edge` or a `SavedEdge`
_DST: Final = attrgetter("dst")
_KIND: Final = attrgetter("kind")  # of an edge
_AFTER_ID: Final = itemgetter(slice(1, None))
_NEW: Final[Any] = tuple.__new__  # map(_NEW, repeat(Node), tuples): records made in C
