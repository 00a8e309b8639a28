"""The records a `model.Graph` is made of: nodes, edges and the summaries they carry.

Immutable and torch-free, like the graph: named tuples for the records a walk makes by the
thousand (`Node`, `Edge`), frozen dataclasses for the rest. Import them from `model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

__all__ = [
    "NODE_KINDS",
    "OP_SHAPES_UP_TO",
    "Edge",
    "EdgeKind",
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

OP_SHAPES_UP_TO: Final = 50_000
"""A walk reads op output shapes, by default, for graphs of at most this many nodes: reading
one costs more than visiting the node, so past it the walk would take several times as long."""

EdgeKind = Literal["data", "saved"]
"""``data``: the source's output is an input of the destination in the forward pass;
``saved``: the source is a tensor that the destination saved for backward."""


@dataclass(frozen=True, slots=True)
class TensorStats:
    """A summary of a tensor's values (a gradient, usually); never the tensor itself."""

    shape: tuple[int, ...] | None
    """Size of each dimension; None for a nested tensor."""
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

    def reshaped(self, shape: tuple[int, ...] | None) -> TensorStats:
        """These figures for a view of the same values in the same order, of shape ``shape``
        (`dataclasses.replace` takes 6 µs to learn the fields)."""
        return TensorStats(
            shape, self.norm, self.min, self.max, self.mean, self.nan, self.inf, self.values
        )


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

    An immutable named tuple (change one with ``node._replace(name="x")``): a tuple is the
    cheapest record Python builds. A walk describes each autograd node with a record whose id
    is blank (``""``), shared by the nodes it describes alike, and gives each node its id when
    the graph's records are first read (`Graph.nodes`).
    """

    id: str
    """``n0``, ``n1``, ... in walk order: breadth-first from the roots, the roots first."""
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
    """Qualified path of the innermost ``nn.Module`` running when the op was made; ``@n`` marks
    its n-th call in one forward (``model.act@2``), see `modules`."""
    grad_returned: bool = False
    """``grad`` is what ``torch.autograd.grad`` returned for this tensor, in the captured call:
    that call does not store it in ``.grad``, which is left as it was (None before any
    backward)."""


class Edge(NamedTuple):
    """``src`` feeds ``dst`` in the forward pass (arrows point from leaves to the loss)."""

    src: str
    dst: str
    slot: int | None = None
    """Position of this input among ``dst``'s forward inputs (its ``next_functions`` index)."""
    kind: EdgeKind = "data"
    grad: TensorStats | None = None
    """What flowed along this edge in a captured backward: the gradient ``dst`` passed to this
    input (its node hook's ``grad_inputs[slot]``). The grads of a node's outgoing edges add up
    to its own gradient."""
    local: float | None = None
    """The local derivative, for a scalar flow: ``grad`` over the gradient at ``dst``'s output
    (None when either is not one number, or that gradient is 0)."""
