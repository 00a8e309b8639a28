"""The graph model: immutable, torch-free records of what autograd built.

A `Graph` is plain data. It holds no tensor and no autograd node, only summaries, so it can be
kept, compared, serialised and rendered long after the tensors it describes are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

__all__ = [
    "NODE_KINDS",
    "Edge",
    "EdgeKind",
    "Graph",
    "Node",
    "NodeKind",
    "SavedTensor",
    "Source",
    "TensorStats",
]

NodeKind = Literal["op", "leaf", "input", "saved"]
"""What a node stands for:

- ``op``: a backward function (``MulBackward0``), i.e. a non-leaf tensor produced by a forward op;
- ``leaf``: a leaf tensor that requires grad (its ``AccumulateGrad`` folded in);
- ``input``: a forward input that needs no gradient (a ``None`` slot of ``next_functions``);
- ``saved``: a tensor that a backward function saved for the backward pass (``show_saved``).
"""

NODE_KINDS: Final[tuple[NodeKind, ...]] = ("op", "leaf", "input", "saved")

EdgeKind = Literal["data", "saved"]
"""``data``: the source's output is an input of the destination in the forward pass;
``saved``: the source is a tensor that the destination saved for backward."""


@dataclass(frozen=True, slots=True)
class TensorStats:
    """A summary of a tensor's values (a gradient, usually); never the tensor itself."""

    shape: tuple[int, ...]
    """Size of each dimension."""
    norm: float | None
    """L2 norm of the finite entries; None when there are none."""
    min: float | None
    """Smallest finite entry."""
    max: float | None
    """Largest finite entry."""
    mean: float | None
    """Mean of the finite entries."""
    nan: int
    """Number of NaN entries."""
    inf: int
    """Number of +/-Inf entries."""
    values: tuple[float, ...] | None = None
    """All entries, flattened, when there are at most 64 of them; else None."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where the forward op that made a node was called: the innermost frame outside torch."""

    file: str
    line: int
    code: str
    """The source line, stripped."""


@dataclass(frozen=True, slots=True)
class SavedTensor:
    """A tensor an op saved for backward, described without keeping it."""

    name: str
    """Attribute name without the ``_saved_`` prefix: ``self``, ``other``, ``result``."""
    shape: tuple[int, ...] | None
    dtype: str | None
    bytes: int | None
    """Size of the storage it keeps alive (a view pins its whole base); None once freed."""
    freed: bool


class Node(NamedTuple):
    """One vertex of the graph: an op, a leaf, a no-grad input or a saved tensor.

    An immutable named tuple (change one with ``node._replace(name="x")``): the walk makes one
    per autograd node, and a tuple is the cheapest record Python builds.
    """

    id: str
    """``n0``, ``n1``, ... in walk order from the roots."""
    kind: NodeKind
    op: str | None = None
    """Backward class name (``MulBackward0``); None for inputs and saved tensors."""
    name: str | None = None
    """A user-facing name: a parameter name, a root's key, a saved attribute."""
    is_leaf: bool = False
    requires_grad: bool = True
    retains_grad: bool = False
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    grad: TensorStats | None = None
    """The tensor's ``.grad`` when it has one (leaves after backward, roots that retain grad)."""
    attrs: tuple[tuple[str, str], ...] = ()
    """Non-tensor saved attributes (``show_attrs``), as (name, text) pairs."""
    freed: bool = False
    """For ``saved`` nodes: the tensor was released by backward."""
    grads: tuple[TensorStats | None, ...] | None = None
    """For ops with several forward outputs: the gradient at each (``grad`` is the first)."""
    order: int | None = None
    """1-based position in which the engine ran this node in the captured backward."""
    count: int = 1  # type: ignore[assignment]  # a field named like tuple.count: it wins
    """How many nodes of the full graph this one stands for (>1 after folding)."""
    source: Source | None = None
    """The forward call site (``source=True``: see `sources`)."""
    saved: tuple[SavedTensor, ...] = ()
    """The tensors this op saved for backward (``show_saved``)."""
    module: str | None = None
    """Qualified path of the innermost ``nn.Module`` running when the op was made."""


class Edge(NamedTuple):
    """``src`` feeds ``dst`` in the forward pass (arrows point from leaves to the loss)."""

    src: str
    dst: str
    slot: int | None = None
    """Position of this input among ``dst``'s forward inputs (its ``next_functions`` index)."""
    kind: EdgeKind = "data"


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in id order, edges in walk order, and the ids of the roots (the outputs walked)."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    roots: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """Sentences about the graph as drawn, e.g. what folding did and how to undo it."""
    first_nonfinite: str | None = None
    """The node whose gradient was the first NaN/Inf in backward order (captured graphs)."""
    saved_bytes: int | None = None
    """Bytes held by saved tensors, each storage counted once (``show_saved``)."""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update((node.id, i) for i, node in enumerate(self.nodes))

    def node(self, node_id: str) -> Node:
        """The node with this id (KeyError when there is none)."""
        return self.nodes[self._index[node_id]]

    def inputs(self, node_id: str) -> tuple[Edge, ...]:
        """Edges that end at ``node_id``, in slot order."""
        return tuple(e for e in self.edges if e.dst == node_id)

    def outputs(self, node_id: str) -> tuple[Edge, ...]:
        """Edges that start at ``node_id``."""
        return tuple(e for e in self.edges if e.src == node_id)
