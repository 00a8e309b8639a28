"""Record the backward calls a program makes: the graph the engine is about to run, and the
gradients right after it ran.

`capture()` wraps ``torch.autograd.backward``, which ``Tensor.backward`` calls, for the duration
of a ``with`` block. Each call is walked before the engine runs (so saved tensors are still
there), then its leaves' ``.grad`` are summarised after. No tensor outlives the call.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any

import torch

from ..doctor.findings import Finding
from ..errors import GradvizError
from ..model import Edge, Graph, TensorStats
from . import checkpoints
from .modules import ModuleTagger
from .naming import caller_names
from .selection import CallSelection, Keep
from .sources import SourceTagger
from .stats import Unread, unread_note
from .walk import WalkOptions, start_walk

__all__ = ["BackwardCall", "Capture", "capture"]


@dataclass(frozen=True, slots=True)
class BackwardCall:
    """One recorded ``backward`` call."""

    number: int
    """1-based position among the program's own backward calls: those made while no other was
    running. A call made inside another has the number of the outermost one."""
    graph: Graph
    """The graph as the engine was about to run it, with the gradients after the call: each
    op's gradient with respect to its output(s), each leaf's ``.grad``, and the order in which
    the engine ran the nodes."""
    error: str | None = None
    """The exception backward raised, if it did (the graph is still recorded)."""
    inner: tuple[int, ...] = ()
    """``()`` for the program's own calls. For a call made while another was running, where it
    sits: ``(1,)`` is the first call made inside call ``number``, ``(1, 2)`` the second made
    inside that one. The engine makes such calls, not the program: a reentrant checkpoint's
    backward runs its forward again and then backward through it (see `checkpoints`)."""

    @property
    def name(self) -> str:
        """``"2"``: the program's second call; ``"2.1"``: the first call made inside it."""
        return _call_name((self.number, *self.inner))


@dataclass(slots=True)
class Capture:
    """What a `capture()` block recorded so far."""

    calls: list[BackwardCall] = field(default_factory=list)
    """Recorded calls (only the kept ones, see ``keep``) in the order they started: a call made
    inside another follows it."""
    count: int = 0
    """How many backward calls the program made, kept or not (calls made inside them aside)."""
    inner_count: int = 0
    """How many calls were made inside those (see `BackwardCall.inner`), kept or not."""
    findings: list[Finding] = field(default_factory=list)
    """With ``capture(diagnose=True)``: what the doctor found, set when the block ends
    (errors first; see docs/doctor.md)."""

    @property
    def graph(self) -> Graph:
        """The graph of the last recorded call the program made (or of a call made inside one,
        when only such calls were kept)."""
        if not self.calls:
            raise GradvizError("no backward call was recorded")
        own = [call for call in self.calls if not call.inner]
        return (own or self.calls)[-1].graph


def _path(call: BackwardCall) -> tuple[int, ...]:
    return (call.number, *call.inner)


def _call_name(path: tuple[int, ...]) -> str:
    """The name of the call at ``path`` (`BackwardCall.name`): ``(2, 1)`` -> ``"2.1"``."""
    return ".".join(map(str, path))


@dataclass(slots=True, eq=False)  # compared by identity
class _Running:
    """A backward call under way."""

    path: tuple[int, ...]
    """``number, *inner`` (see `BackwardCall`)."""
    engine: Callable[..., Any] = torch.autograd.backward
    """What runs it: torch's backward, or the doctor watching it."""
    inside: int = 0
    """How many calls were made inside it so far."""
    hooks: _Hooks | None = None
    """Its node hooks, when it is recorded."""
    made: list[tuple[tuple[int, ...], int]] = field(default_factory=list)
    """For each call made inside it while recorded: that call's path, and how many of its nodes
    had run by then. The node running (a checkpoint's) is the next to finish."""


class _Hooks:
    """Node hooks that note, for each node the engine runs, when it ran, the gradient with
    respect to each of its forward outputs (``grad_outputs``) and what it passed to each of its
    inputs (``grad_inputs``, by slot: what flows along its incoming edges). Removed by
    `remove`."""

    def __init__(self, fns: list[tuple[int, Any]]) -> None:
        self.order: dict[int, int] = {}
        self.grads: dict[int, tuple[TensorStats | None, ...]] = {}
        self.flows: dict[int, tuple[TensorStats | None, ...]] = {}
        self.unread = Unread()  # a hook must not raise: that would fail the user's backward
        self.handles = [fn.register_hook(self._hook(index)) for index, fn in fns]

    def _hook(self, index: int) -> Callable[[Any, Any], None]:
        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            self.order[index] = len(self.order) + 1
            summary = self.unread.summarize
            outputs = self.grads[index] = tuple(
                None if g is None else summary(g, index) for g in grad_outputs
            )
            # An op that passes its gradient on unchanged (an add, a view of the same shape)
            # hands on the very tensor it got: summarised once.
            known = {id(g): s for g, s in zip(grad_outputs, outputs, strict=True) if s}
            self.flows[index] = tuple(
                None if g is None else known.get(id(g)) or summary(g, index) for g in grad_inputs
            )

        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def apply(self, graph: Graph, leaf_grads: dict[int, TensorStats | None]) -> Graph:
        """``graph`` with each node's execution order and, for ops, its gradient(s); and the
        ``.grad`` read after the call (``leaf_grads``, node index -> summary). One new node per
        node that changed."""
        nodes = list(graph.nodes)
        first_bad: tuple[int, str] | None = None
        grads_of, order_of = self.grads, self.order
        for index in order_of.keys() | leaf_grads.keys():
            node = nodes[index]
            order = order_of.get(index)
            grads = grads_of.get(index, ())
            if node.kind == "op" and order is not None:  # the gradient of this call
                grad = grads[0] if grads else None
            elif index in leaf_grads:  # a leaf's accumulated .grad, not just this call's part
                grad = leaf_grads[index]
            else:
                grad = node.grad
            several = grads if len(grads) > 1 else None
            nodes[index] = node._replace(grad=grad, grads=several, order=order)
            if order is not None and any(g is not None and (g.nan or g.inf) for g in grads):
                if first_bad is None or order < first_bad[0]:
                    first_bad = (order, node.id)
        return graph.replace(
            nodes=tuple(nodes),
            edges=self._edges(graph),
            first_nonfinite=first_bad[1] if first_bad else None,
        )

    def _edges(self, graph: Graph) -> tuple[Edge, ...]:
        """``graph``'s edges, each data edge with what flowed along it (`Edge.grad`) and, for a
        scalar flow, its local derivative (`Edge.local`)."""
        flows, grads = self.flows, self.grads
        edges = list(graph.edges)
        index = {node_id: i for i, node_id in enumerate(graph.column("id"))}
        for k, edge in enumerate(edges):
            into = index[edge.dst]
            passed = flows.get(into, ())
            if edge.slot is None or edge.slot >= len(passed) or passed[edge.slot] is None:
                continue
            grad = passed[edge.slot]
            edges[k] = edge._replace(grad=grad, local=_local(grad, grads.get(into, ())))
        return tuple(edges)


def _local(grad: TensorStats | None, outputs: tuple[TensorStats | None, ...]) -> float | None:
    """``grad`` over the gradient at the consumer's one output, when both are one number."""
    if grad is None or len(outputs) != 1 or outputs[0] is None:
        return None
    flow, out = grad.values, outputs[0].values
    if flow is None or out is None or len(flow) != 1 or len(out) != 1 or out[0] == 0:
        return None
    return flow[0] / out[0]


def _given(inputs: Any, returned: Any) -> dict[int, Any]:
    """``id(input) -> the gradient grad() returned for it``; empty for a backward call."""
    if inputs is None or not isinstance(returned, tuple):
        return {}
    tensors = (inputs,) if isinstance(inputs, torch.Tensor) else inputs
    return {id(t): g for t, g in zip(tensors, returned, strict=False) if g is not None}


def _mark(
    graph: Graph,
    found: dict[int, checkpoints.Checkpoint],
    made: list[tuple[tuple[int, ...], int]],
    order: dict[int, int],
) -> Graph:
    """A recorded call's ``graph`` with its reentrant checkpoints described, each with the call
    that recomputed it: the one made inside while it ran (``made``: each call made inside, and
    how many nodes had run by then; ``order``: node index -> when it ran)."""
    by_order = {when: index for index, when in order.items()}
    recomputes: dict[int, str] = {}
    for path, ran in made:
        index = by_order.get(ran + 1, -1)
        if index in found:
            recomputes[index] = _call_name(path)
    return checkpoints.mark(graph, found, recomputes)


@contextmanager
def capture(
    *,
    params: Mapping[str, torch.Tensor] | Callable[[], Mapping[str, torch.Tensor]] | None = None,
    auto_names: bool = True,
    show_saved: bool = False,
    show_attrs: bool = False,
    show_inputs: bool = False,
    source: bool = False,
    modules: bool = False,
    op_shapes: bool | None = None,
    namespace: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    keep: Keep | CallSelection = "all",
    on_record: Callable[[BackwardCall], None] | None = None,
    diagnose: bool = False,
) -> Iterator[Capture]:
    """Record every backward call made inside the ``with`` block: ``Tensor.backward``,
    ``torch.autograd.backward`` and ``torch.autograd.grad`` (with ``create_graph=True`` too;
    a leaf's ``grad`` in its graph is then the gradient ``grad`` returned for it).

    >>> with capture() as cap:
    ...     loss.backward()
    >>> render(cap.graph, "loss.svg")

    Args:
        params: ``{name: tensor}`` naming tensors, as for `build_graph`, or a function
            returning one, called at each backward call. These names win over automatic ones.
        auto_names: also name tensors by the variables that hold them in the code that called
            backward (its locals, then its globals; ``nn.Module`` parameters by path).
        show_saved, show_attrs, show_inputs: as for `build_graph`.
        source: record each op's forward call site (`sources.SourceTagger`: about 10 µs per
            torch call on this thread); once the calls to keep are recorded (``keep="first"``
            or N), it is turned off again.
        modules: record which ``nn.Module`` made each op (`modules.ModuleTagger`); also only
            until the kept calls are recorded.
        op_shapes: as for `build_graph`.
        namespace: where module variable names come from (default: the locals and globals of
            the code that enters the block).
        keep: ``"all"`` (default), ``"first"``, ``"last"``, a 1-based call number, or the
            name of a call made inside one (``"1.1"``); calls not kept are not walked, which
            keeps long training loops cheap. ``"first"``, ``"last"`` and numbers count only the
            program's own calls, not those made inside them (see `BackwardCall.inner`). A
            `selection.CallSelection` (what ``--call`` parses into) is taken as it is.
        on_record: called with the call ``keep`` names (``"first"``, N, ``"1.1"``) as soon as
            it is recorded, before the program goes on: so that it can be written before the
            program ends, however it ends. It must not raise.
        diagnose: watch forward and backward for autograd's pitfalls (`doctor.watch`) for the
            whole block, and set ``findings`` when it ends. The watch also records each op's
            line: recorded graphs then have their sources, as with ``source=True``.
    """
    selection = CallSelection.of(keep)
    target = selection.target
    options: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source or diagnose,  # the doctor's watch records the lines anyway
        "modules": modules,
        "op_shapes": op_shapes,
    }
    result = Capture()
    original = torch.autograd.backward
    original_grad = torch.autograd.grad
    # What only the forward passes of kept calls need: closed once no later call is kept.
    forward_aids = contextlib.ExitStack()
    sources = SourceTagger()
    doctor = None
    if diagnose:
        from ..doctor.session import Doctor

        doctor = Doctor(namespace)
        doctor.start()
    elif source:
        forward_aids.enter_context(sources)
    if modules:
        forward_aids.enter_context(ModuleTagger(namespace))

    running: list[_Running] = []  # calls under way, outermost first

    def backward(tensors: Any, grad_tensors: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(tensors, torch.Tensor):
            tensors = tuple(tensors)  # a generator would be used up by the walk
        caller = sys._getframe(1)
        return dispatch(original, caller, tensors, None, (tensors, grad_tensors, *args), kwargs)

    def grad(outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(outputs, torch.Tensor):
            outputs = tuple(outputs)
        if not isinstance(inputs, torch.Tensor):
            inputs = tuple(inputs)  # model.parameters(), often: a generator
        caller = sys._getframe(1)
        return dispatch(original_grad, caller, outputs, inputs, (outputs, inputs, *args), kwargs)

    def dispatch(
        engine: Callable[..., Any],
        caller: FrameType,
        tensors: Any,
        inputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Make one call, ``engine(*args, **kwargs)``: a ``backward``, or a ``grad`` with its
        ``inputs``."""
        if running:  # made inside a running call: by a reentrant checkpoint, most likely
            outer = running[-1]
            outer.inside += 1
            path = (*outer.path, outer.inside)
            result.inner_count += 1
            if outer.hooks is not None:
                outer.made.append((path, len(outer.hooks.order)))
        else:
            result.count += 1
            path = (result.count,)
        call = _Running(path)
        running.append(call)
        if doctor is not None and engine is original:  # the doctor watches backward() calls
            call.engine = functools.partial(doctor.run, original, _call_name(path), caller)
        else:
            call.engine = engine
        try:
            if not selection.wants(path):
                return call.engine(*args, **kwargs)
            return record(call, caller, tensors, inputs, lambda: call.engine(*args, **kwargs))
        finally:
            running.remove(call)

    def record(
        call: _Running, caller: FrameType, tensors: Any, inputs: Any, run: Callable[[], Any]
    ) -> Any:
        names: dict[str, torch.Tensor] = {}
        given = params() if callable(params) else params
        if given:
            names.update(given)
        if auto_names:
            for name, tensor in caller_names().items():
                names.setdefault(name, tensor)
        recompute = len(call.path) > 1 and checkpoints.is_recompute(caller)
        if recompute:
            names.update(checkpoints.recompute_inputs(caller, names))
        try:
            graph, walker = start_walk(tensors, names, options)
        except GradvizError:  # nothing to draw: let torch raise its own error (not chained)
            graph = None
        if graph is None:
            return run()
        found = checkpoints.find(graph, walker.fns, walker.names)
        error = None
        returned: Any = None
        hooks = call.hooks = _Hooks(walker.hookable())
        try:
            returned = run()
            return returned
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise
        finally:
            hooks.remove()
            walker.fns.clear()
            # What the walk could not read before the call is read again after it.
            walker.unread.clear()
            leaf_grads = walker.leaf_grads(_given(inputs, returned))
            recorded = hooks.apply(graph, leaf_grads)
            unread = unread_note({**hooks.unread, **walker.unread})
            if unread:
                recorded = recorded.replace(notes=recorded.notes + unread)
            if found:
                recorded = _mark(recorded, found, call.made, hooks.order)
            number, *inner = call.path
            done = BackwardCall(number, recorded, error, tuple(inner))
            if recompute:
                note = (
                    f"Backward call {done.name}, made inside call {done.name.rpartition('.')[0]} "
                    "by a reentrant checkpoint: it ran its forward again, with grad"
                )
                done = replace(done, graph=recorded.replace(notes=(note, *recorded.notes)))
            if selection.kind == "last":
                result.calls[:] = [done]
            else:
                bisect.insort(result.calls, done, key=_path)  # before the calls made inside it
            if call.path == target:
                forward_aids.close()  # no later graph is kept: stop paying for them
                if on_record is not None:
                    on_record(done)

    torch.autograd.backward = backward
    torch.autograd.grad = grad
    try:
        yield result
    finally:
        torch.autograd.backward = original
        torch.autograd.grad = original_grad
        forward_aids.close()
        if doctor is not None:
            doctor.stop()
            result.findings = doctor.findings({c.name: c.graph for c in result.calls})
        sources.close()  # off the stack now, if it was closed inside ``loss.backward()``
