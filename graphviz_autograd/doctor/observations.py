"""What the doctor's watches saw, as plain records: the input of the rules (`rules`, `failures`).

No torch here: tensors and modules are known by ``id()`` (a *key*) and named in
`Observations.names`; script lines are `Source`\\ s. The watches (`watch`, `backward`) make
these records; `session.Doctor.observations` gathers them when the block ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from ..model import Source
from .findings import NodeRef

__all__ = [
    "Birth",
    "Call",
    "Cut",
    "CutAt",
    "EmptiedStep",
    "Failure",
    "FreedTwice",
    "InPlace",
    "InplaceModified",
    "ModuleNorm",
    "NoGraph",
    "NonScalar",
    "NonfiniteGrad",
    "NonleafRead",
    "Observations",
    "ScalerPath",
    "Site",
    "Slope",
    "VersionClash",
    "named",
]


class Site(NamedTuple):
    """A line of the user's code, before its text is read (the watches note many)."""

    file: str
    line: int


@dataclass(frozen=True, slots=True)
class Call:
    """One ``backward`` (or ``autograd.grad``) call."""

    name: str
    """``"1"``, ``"2"``, ... in call order."""
    source: Source | None
    """The line that made the call."""


# -- forward -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutAt:
    """Where tensors needing grad were cut from the graph."""

    how: str
    """``.detach()``, ``.data``, ``torch.no_grad()`` or ``torch.inference_mode()``."""
    source: Source | None


@dataclass(frozen=True, slots=True)
class Cut:
    """A cut and the leaves needing grad behind the tensors it cut."""

    at: CutAt
    leaves: tuple[int, ...]
    """Keys of the leaves, in the order met."""


@dataclass(frozen=True, slots=True)
class InPlace:
    """An in-place write to a tensor that needs grad."""

    op: str
    """The function's name (``add_``, ``__iadd__``)."""
    was: str | None
    """The ``grad_fn`` name of the tensor before the write (``ExpBackward0``)."""
    version: int
    """The tensor's version after the write."""
    site: Site | None


@dataclass(frozen=True, slots=True)
class Birth:
    """A torch call whose output (needing grad) held NaN/Inf while its tensor inputs were
    finite: the first at its line."""

    op: str
    """The function's name (``log``)."""
    node: str | None
    """The ``grad_fn`` name of the bad output, when it has one."""
    nan: int
    inf: int
    total: int
    """How many values the bad output has."""
    source: Source | None


@dataclass(frozen=True, slots=True)
class NonleafRead:
    """The script read ``.grad`` of a tensor that is not a leaf and retains no gradient."""

    name: str | None
    """The user's variable for the tensor, when one is bound to it."""
    shape: tuple[int, ...]
    source: Source | None


# -- a backward call that raised ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FreedTwice:
    """``call`` ran through a graph whose saved tensors an earlier call had freed."""

    call: Call
    node: NodeRef | None
    """The first node found whose saved tensors were gone."""
    freed_by: Call | None
    """The call that ran (and freed) that node first, when known."""
    via: NodeRef | None = None
    """The node of this call's graph that leads into the freed one: what carries the old graph
    into the new (a hidden state passed from one iteration to the next)."""
    carried: str | None = None
    """The variable that carries it, when known: bound to the freed node's output, or both
    assigned and passed at `via`'s line (``out, h = rnn(x, h)``)."""


class VersionClash(NamedTuple):
    """What autograd's error says of a saved tensor modified in place."""

    op: str
    """The forward op whose output was saved (``Exp``)."""
    version: int
    """The version the tensor is at."""
    expected: int
    """The version it was saved at."""


@dataclass(frozen=True, slots=True)
class InplaceModified:
    """``call`` needed a saved tensor that was modified in place after it was saved."""

    call: Call
    node: NodeRef | None
    """The first node found whose saved tensors were modified (the saver)."""
    write: NodeRef | None
    """The in-place write most likely to blame."""
    clash: VersionClash | None


@dataclass(frozen=True, slots=True)
class NoGraph:
    """``call`` was on a tensor with no ``grad_fn`` that needs no grad."""

    call: Call
    name: str
    """The user's variable for the tensor, or ``"the tensor"``."""
    cut: CutAt | None
    """The cut it comes from, when the forward watch saw one."""
    inference: bool
    """Made under ``torch.inference_mode()``."""
    block: Source | None = None
    """The ``with torch.no_grad():`` (or ``inference_mode``) line around the cut, when the cut
    is one and the line is found above it."""


@dataclass(frozen=True, slots=True)
class NonScalar:
    """``call`` was on a tensor of more than one value, without ``gradient=``."""

    call: Call
    name: str
    """The user's variable for the tensor, or ``"the tensor"``."""
    shape: tuple[int, ...]


Failure = FreedTwice | InplaceModified | NoGraph | NonScalar
"""A ``backward`` failure the doctor can explain."""


# -- the training loop ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmptiedStep:
    """An optimizer step that found every gradient written since the last step zeroed."""

    step: int
    """Which step (1-based, all optimizers counted)."""
    params: int
    """How many of its parameters a backward call had written since."""
    call: str
    """The last backward call before it."""
    call_source: Source | None
    zero_source: Source | None
    """The ``zero_grad`` call between that backward call and the step, when seen."""
    step_source: Source | None


class ScalerPath(NamedTuple):
    """What the ``GradScaler.update`` calls did."""

    updates: int
    skipped: int
    """Updates after a skipped step (non-finite gradients at the scale of the time)."""
    first: float
    """The scale before the first update."""
    last: float
    """The scale after the last."""
    trailing: int
    """Skipped steps at the end, in a row."""


# -- after backward calls -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NonfiniteGrad:
    """The first call that left a NaN/Inf in the gradient of some leaves."""

    call: str
    leaves: tuple[int, ...]


class ModuleNorm(NamedTuple):
    """The norm of the gradients of one module's own parameters in one call."""

    module: int
    """Key of the module."""
    norm: float


@dataclass(frozen=True, slots=True)
class Slope:
    """In one call, the first module's gradient norm and the last's differ by more than
    `rules.FACTOR`."""

    kind: Literal["vanishing", "exploding"]
    call: str
    ratio: float
    """The larger norm over the smaller."""
    first: ModuleNorm
    last: ModuleNorm


@dataclass(frozen=True, slots=True)
class Observations:
    """Everything the rules look at, from one capture block."""

    calls: tuple[Call, ...] = ()
    failures: tuple[Failure, ...] = ()
    """Failures explained, in call order."""
    births: tuple[Birth, ...] = ()
    """Births of non-finite values that reached a non-finite loss, in the order born."""
    nonfinite_grad: NonfiniteGrad | None = None
    cuts: tuple[Cut, ...] = ()
    """In the order first met."""
    params: Mapping[int, bool] = field(default_factory=dict)
    """Whether each parameter of the modules that ran requires grad, by key, in forward order
    of the modules."""
    names: Mapping[int, str] = field(default_factory=dict)
    """Names of parameters and tensors, by key."""
    reached: frozenset[int] = frozenset()
    """Keys of the leaves some backward call reached."""
    accumulated: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Leaves whose ``.grad`` summed several calls' gradients, by key: those calls."""
    steps: int = 0
    """Optimizer steps taken."""
    held: frozenset[int] = frozenset()
    """Keys of the parameters some stepping optimizer held."""
    idle: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    """Parameters some backward call reached that a stepping optimizer held, by key: at how
    many of the steps that held them no call since the step before had given them a gradient,
    and how many steps held them."""
    stale: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """Parameters whose ``.grad`` a step consumed again after later calls added to it, by key:
    the calls summed."""
    stale_step: Source | None = None
    """The line of the first step that consumed such a sum."""
    emptied: tuple[EmptiedStep, ...] = ()
    scaler: ScalerPath | None = None
    assigned: Mapping[int, Source] = field(default_factory=dict)
    """For parameters that got gradients but that no stepping optimizer held, by key: the
    line that assigned their module to its parent, when seen."""
    normalised: bool = False
    """The model has normalisation layers (``LayerNorm``, ``BatchNorm2d``, ``RMSNorm``...)."""
    nonleaf_reads: tuple[NonleafRead, ...] = ()
    slope: Slope | None = None
    module_paths: Mapping[int, str] = field(default_factory=dict)
    """Paths of the modules in `slope`, by key (``"?"`` for one gone)."""
    ddp_index: Mapping[int, int] = field(default_factory=dict)
    """Each parameter of a ``DistributedDataParallel`` module, by key: its index in DDP's
    messages ("Parameter indices which did not receive grad")."""


def named(names: Mapping[int, str], keys: Iterable[int]) -> tuple[str, ...]:
    """The names of the tensors ``keys`` in ``names`` (`Observations.names`); ``<tensor
    0x...>`` for one unnamed."""
    return tuple(names.get(k, f"<tensor {k:#x}>") for k in keys)
