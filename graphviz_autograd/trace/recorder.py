"""The stand-ins for ``torch.autograd.backward`` and ``grad`` inside a `record.capture` block.

Each call is numbered (a call made while another runs gets a path inside it, see
`calls.BackwardCall`); a call to keep is walked before the engine runs it (so saved tensors are
still there), its nodes hooked (`grad_hooks`), then its leaves' ``.grad`` read after it. No
tensor outlives the call.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from ..errors import GradvizError
from ..model import Graph
from . import checkpoints
from .aside import (
    COMPILED_AUTOGRAD_NOTE,
    compile_standin,
    compiled_autograd,
    hidden_from_dynamo,
    is_dynamo_wrapper,
    torch_is_tracing,
)
from .calls import BackwardCall, Capture, call_name, call_path
from .grad_hooks import GradHooks
from .module_names import Namespace
from .modules import ModuleTagger
from .naming import caller_names
from .opened import open_regions
from .sources import SourceTagger
from .stats import unread_note
from .walk import WalkOptions, start_walk

if TYPE_CHECKING:
    from ..doctor.session import Doctor
    from .record import Params
    from .selection import CallSelection

__all__ = ["Recorder"]


class _Made(NamedTuple):
    """A call made inside a recorded call."""

    path: tuple[int, ...]
    """``number, *inner`` of the call made inside (see `BackwardCall`)."""
    ran: int
    """How many of the outer call's nodes had run by then: the node running (a checkpoint's)
    is the next to finish."""


@dataclass(slots=True, eq=False)  # compared by identity
class _Running:
    """A backward call under way."""

    path: tuple[int, ...]
    """``number, *inner`` (see `BackwardCall`)."""
    engine: Callable[..., Any] = torch.autograd.backward
    """What runs it: torch's backward, or the doctor watching it."""
    inside: int = 0
    """How many calls were made inside it so far."""
    hooks: GradHooks | None = None
    """Its node hooks, when it is recorded."""
    made: list[_Made] = field(default_factory=list)
    """Each call made inside it while recorded."""


def _given(inputs: Any, returned: Any) -> dict[int, Any]:
    """``id(input) -> the gradient grad() returned for it``; empty for a backward call."""
    if inputs is None or not isinstance(returned, tuple):
        return {}
    tensors = (inputs,) if isinstance(inputs, torch.Tensor) else inputs
    return {id(t): g for t, g in zip(tensors, returned, strict=False) if g is not None}


def _mark(
    graph: Graph, found: dict[int, checkpoints.Checkpoint], made: list[_Made], order: dict[int, int]
) -> Graph:
    """A recorded call's ``graph`` with its reentrant checkpoints described, each with the call
    that recomputed it: the one made inside while it ran (``made``; ``order``: node index ->
    when it ran)."""
    by_order = {when: index for index, when in order.items()}
    recomputes: dict[int, str] = {}
    for inner in made:
        index = by_order.get(inner.ran + 1, -1)
        if index in found:
            recomputes[index] = call_name(inner.path)
    return checkpoints.mark(graph, found, recomputes)


def _own_caller(frame: FrameType | None) -> FrameType:
    """The caller of the function whose frame is ``frame`` (``inspect.currentframe()`` there):
    the public way to reach one's caller, where ``sys._getframe(1)`` is CPython's."""
    caller = frame.f_back if frame is not None else None
    while caller is not None and is_dynamo_wrapper(caller):  # see `Recorder.hide_from_dynamo`
        caller = caller.f_back
    if caller is None:
        raise GradvizError("capture() needs a Python with stack frames (CPython, PyPy)")
    return caller


class Recorder:
    """The stand-ins for ``torch.autograd.backward`` and ``grad`` inside one `capture` block:
    each call is numbered, and the kept ones are walked, hooked and recorded in ``result``."""

    def __init__(
        self,
        result: Capture,
        options: WalkOptions,
        *,
        params: Params | None,
        auto_names: bool,
        selection: CallSelection,
        on_record: Callable[[BackwardCall], None] | None,
    ) -> None:
        self.result = result
        self.options = options
        self.params = params
        self.auto_names = auto_names
        self.selection = selection
        self.on_record = on_record
        self.original = torch.autograd.backward
        self.original_grad = torch.autograd.grad
        self.original_compile = torch.compile
        self.doctor: Doctor | None = None
        # What only the forward passes of kept calls need: closed once no later call is kept.
        self.forward_aids = contextlib.ExitStack()
        self.running: list[_Running] = []  # calls under way, outermost first
        self.sources = SourceTagger()

    def start(
        self, namespace: Namespace | None, *, source: bool, modules: bool, diagnose: bool
    ) -> None:
        """Start the forward aids the options ask for, then stand in for torch."""
        if diagnose:
            from ..doctor.session import Doctor

            self.doctor = Doctor(namespace)
            self.doctor.start()
        elif source:
            self.forward_aids.enter_context(self.sources)
        if modules:
            self.forward_aids.enter_context(ModuleTagger(namespace))
        torch.autograd.backward = self.backward
        torch.autograd.grad = self.grad
        torch.compile = compile_standin(self.original_compile, self.hide_from_dynamo)

    def hide_from_dynamo(self) -> None:
        """Once the program uses torch.compile: Dynamo never traces the stand-ins for backward
        and grad, nor what they call (`aside.hidden_from_dynamo`). Done once: later calls find
        the stand-ins hidden already."""
        if torch.autograd.backward != self.backward:
            return
        torch.autograd.backward = hidden_from_dynamo(self.backward)
        torch.autograd.grad = hidden_from_dynamo(self.grad)

    def stop(self) -> None:
        """Give torch its functions back, stop the aids, and collect the doctor's findings."""
        torch.autograd.backward = self.original
        torch.autograd.grad = self.original_grad
        torch.compile = self.original_compile
        self.forward_aids.close()
        if self.doctor is not None:
            self.doctor.stop()
            graphs = {call.name: call.graph for call in self.result.calls}
            self.result.findings = self.doctor.findings(graphs)
        self.sources.close()  # off the stack now, if it was closed inside ``loss.backward()``

    def backward(self, tensors: Any, grad_tensors: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(tensors, torch.Tensor):
            tensors = tuple(tensors)  # a generator would be used up by the walk
        caller = _own_caller(inspect.currentframe())
        args = (tensors, grad_tensors, *args)
        return self._dispatch(self.original, caller, tensors, None, args, kwargs)

    def grad(self, outputs: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(outputs, torch.Tensor):
            outputs = tuple(outputs)
        if not isinstance(inputs, torch.Tensor):
            inputs = tuple(inputs)  # model.parameters(), often: a generator
        caller = _own_caller(inspect.currentframe())
        args = (outputs, inputs, *args)
        return self._dispatch(self.original_grad, caller, outputs, inputs, args, kwargs)

    def _dispatch(
        self,
        engine: Callable[..., Any],
        caller: FrameType,
        tensors: Any,
        inputs: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Make one call, ``engine(*args, **kwargs)``: a ``backward``, or a ``grad`` with its
        ``inputs``. A call torch makes while it traces (AOTAutograd tracing the backward of a
        compiled region on fake tensors, compiled autograd) is torch's own: it passes through,
        unseen."""
        if torch_is_tracing():
            return engine(*args, **kwargs)
        call = _Running(self._next_path())
        self.running.append(call)
        if self.doctor is not None and engine is self.original:  # it watches backward() calls
            call.engine = functools.partial(
                self.doctor.run, self.original, call_name(call.path), caller
            )
        else:
            call.engine = engine
        try:
            if not self.selection.wants(call.path):
                return call.engine(*args, **kwargs)
            run = functools.partial(call.engine, *args, **kwargs)
            return self._record(call, caller, tensors, inputs, run)
        finally:
            self.running.remove(call)

    def _next_path(self) -> tuple[int, ...]:
        """The path of the call that begins now (see `BackwardCall`)."""
        result = self.result
        if not self.running:
            result.count += 1
            return (result.count,)
        # made inside a running call: by a reentrant checkpoint, most likely
        outer = self.running[-1]
        outer.inside += 1
        path = (*outer.path, outer.inside)
        result.inner_count += 1
        if outer.hooks is not None:
            outer.made.append(_Made(path, len(outer.hooks.order)))
        return path

    def _names(self, caller: FrameType, path: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """The tensors to name in the call's graph, by name."""
        names: dict[str, torch.Tensor] = {}
        given = self.params() if callable(self.params) else self.params
        if given:
            names.update(given)
        if self.auto_names:
            for name, tensor in caller_names().items():
                names.setdefault(name, tensor)
        if len(path) > 1 and checkpoints.is_recompute(caller):
            names.update(checkpoints.recompute_inputs(caller, names))
        return names

    def _record(
        self, call: _Running, caller: FrameType, tensors: Any, inputs: Any, run: Callable[[], Any]
    ) -> Any:
        """Walk the call's graph, hook its nodes, run it, and record what it did."""
        try:
            names = self._names(caller, call.path)
            walked = start_walk(tensors, names, self.options, read_grads=False)
        except GradvizError:  # nothing to draw
            walked = None
        if walked is None:  # outside the except block: torch raises its own error, not chained
            return run()
        graph, walker = walked
        found = checkpoints.find(graph, walker.fns, walker.names)
        error = None
        returned: Any = None
        # Compiled autograd traces the hooks on the graph's nodes into its own compiled graph:
        # ours would run on fake tensors. Under it, only the leaves' gradients are read.
        compiled = compiled_autograd()
        hooks = call.hooks = GradHooks([] if compiled else walker.hookable())
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
            given = _given(inputs, returned)
            from_grad = walker.indices_of(given)  # before leaf_grads forgets the tensors
            leaf_grads = walker.leaf_grads(given, hooks.leaf_grad)
            recorded = hooks.apply(graph, leaf_grads, returned=from_grad)
            unread = unread_note({**hooks.unread, **walker.unread})
            if compiled:
                unread += (COMPILED_AUTOGRAD_NOTE,)
            if unread:
                recorded = recorded.replace(notes=recorded.notes + unread)
            if found:
                recorded = _mark(recorded, found, call.made, hooks.order)
            recorded = open_regions(recorded, walker.regions)
            recompute = len(call.path) > 1 and checkpoints.is_recompute(caller)
            self._keep(_finished(call.path, recorded, error, recompute=recompute))

    def _keep(self, done: BackwardCall) -> None:
        """Add ``done`` to the recorded calls; once the call to keep is in, stop the aids."""
        calls = self.result.calls
        history = self.result.history
        if history is not None:
            if not done.inner:  # calls made inside one are the engine's, not a step
                step = history.add(done.name, done.graph, done.error)
                steps = history.steps
                if step is not None and len(steps) > 1 and steps[-2].graph == step.graph:
                    # The run repeats itself: the graph kept for this structure has its
                    # modules and lines already; later calls need only their gradients.
                    self.forward_aids.close()
            calls[:] = [done]
        elif self.selection.kind == "last":
            calls[:] = [done]
        else:
            bisect.insort(calls, done, key=call_path)  # before the calls made inside it
        if call_path(done) == self.selection.target:
            self.forward_aids.close()  # no later graph is kept: stop paying for them
            if self.on_record is not None:
                self.on_record(done)


def _finished(
    path: tuple[int, ...], graph: Graph, error: str | None, *, recompute: bool
) -> BackwardCall:
    """The record of the call at ``path``; a recompute says where it was made."""
    number, *inner = path
    done = BackwardCall(number, graph, error, tuple(inner))
    if recompute:
        note = (
            f"Backward call {done.name}, made inside call {done.name.rpartition('.')[0]} "
            "by a reentrant checkpoint: it ran its forward again, with grad"
        )
        done = replace(done, graph=graph.replace(notes=(note, *graph.notes)))
    return done
