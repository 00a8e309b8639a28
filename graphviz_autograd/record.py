"""Record the backward calls a program makes: the graph the engine is about to run, and the
gradients right after it ran.

`capture()` wraps ``torch.autograd.backward``, which ``Tensor.backward`` calls, for the duration
of a ``with`` block. Each call is walked before the engine runs (so saved tensors are still
there), then its leaves' ``.grad`` are summarised after. No tensor outlives the call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .errors import GradvizError
from .model import Graph, Node, TensorStats
from .modules import ModuleTagger
from .naming import caller_names
from .sources import SourceTagger
from .stats import Unread, unread_note
from .walk import WalkOptions, start_walk

__all__ = ["BackwardCall", "Capture", "Keep", "capture"]

Keep = Literal["all", "first", "last"] | int
"""Which calls to record: every one, the first, the last, or the N-th (1-based)."""


@dataclass(frozen=True, slots=True)
class BackwardCall:
    """One recorded ``backward`` call."""

    number: int
    """1-based position among all backward calls inside the capture."""
    graph: Graph
    """The graph as the engine was about to run it, with the gradients after the call: each
    op's gradient with respect to its output(s), each leaf's ``.grad``, and the order in which
    the engine ran the nodes."""
    error: str | None = None
    """The exception backward raised, if it did (the graph is still recorded)."""


@dataclass(slots=True)
class Capture:
    """What a `capture()` block recorded so far."""

    calls: list[BackwardCall] = field(default_factory=list)
    """Recorded calls, in call order (only the kept ones, see ``keep``)."""
    count: int = 0
    """How many backward calls were made, kept or not."""

    @property
    def graph(self) -> Graph:
        """The graph of the last recorded call."""
        if not self.calls:
            raise GradvizError("no backward call was recorded")
        return self.calls[-1].graph


def _wanted(keep: Keep, number: int) -> bool:
    if keep == "all" or keep == "last":
        return True
    if keep == "first":
        return number == 1
    return number == keep


class _Hooks:
    """Node hooks that note, for each node the engine runs, when it ran and the gradient with
    respect to each of its forward outputs (``grad_outputs``). Removed by `remove`."""

    def __init__(self, fns: list[tuple[int, Any]]) -> None:
        self.order: dict[int, int] = {}
        self.grads: dict[int, tuple[TensorStats | None, ...]] = {}
        self.unread = Unread()  # a hook must not raise: that would fail the user's backward
        self.handles = [fn.register_hook(self._hook(index)) for index, fn in fns]

    def _hook(self, index: int) -> Callable[[Any, Any], None]:
        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            self.order[index] = len(self.order) + 1
            summary = self.unread.summarize
            self.grads[index] = tuple(
                None if g is None else summary(g, index) for g in grad_outputs
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
            # node._replace(grad=..., grads=..., order=...), without its per-call overhead
            several = grads if len(grads) > 1 else None
            nodes[index] = Node._make(
                (*node[:9], grad, node[10], node[11], several, order, *node[14:])
            )
            if order is not None and any(g is not None and (g.nan or g.inf) for g in grads):
                if first_bad is None or order < first_bad[0]:
                    first_bad = (order, node.id)
        return graph.replace(
            nodes=tuple(nodes), first_nonfinite=first_bad[1] if first_bad else None
        )


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
    keep: Keep = "all",
) -> Iterator[Capture]:
    """Record every backward call made inside the ``with`` block.

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
        keep: ``"all"`` (default), ``"first"``, ``"last"`` or a 1-based call number; calls
            not kept are not walked, which keeps long training loops cheap.
    """
    if isinstance(keep, int) and keep < 1:
        raise GradvizError(f"call numbers start at 1, not {keep}")
    options: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    result = Capture()
    original = torch.autograd.backward
    # What only the forward passes of kept calls need: closed once no later call is kept.
    forward_aids = contextlib.ExitStack()
    sources = SourceTagger()
    if source:
        forward_aids.enter_context(sources)
    if modules:
        forward_aids.enter_context(ModuleTagger(namespace))

    def backward(tensors: Any, grad_tensors: Any = None, *args: Any, **kwargs: Any) -> Any:
        result.count += 1
        number = result.count
        if not _wanted(keep, number):
            return original(tensors, grad_tensors, *args, **kwargs)
        if not isinstance(tensors, torch.Tensor):
            tensors = tuple(tensors)  # a generator would be used up by the walk
        names: dict[str, torch.Tensor] = {}
        given = params() if callable(params) else params
        if given:
            names.update(given)
        if auto_names:
            for name, tensor in caller_names().items():
                names.setdefault(name, tensor)
        try:
            graph, walker = start_walk(tensors, names, options)
        except GradvizError:  # nothing to draw: let torch raise its own error
            return original(tensors, grad_tensors, *args, **kwargs)
        error = None
        hooks = _Hooks(walker.hookable())
        try:
            return original(tensors, grad_tensors, *args, **kwargs)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise
        finally:
            hooks.remove()
            walker.fns.clear()
            # What the walk could not read before the call is read again after it.
            walker.unread.clear()
            recorded = hooks.apply(graph, walker.leaf_grads())
            unread = unread_note({**hooks.unread, **walker.unread})
            if unread:
                recorded = recorded.replace(notes=recorded.notes + unread)
            call = BackwardCall(number, recorded, error)
            if keep == "last":
                result.calls[:] = [call]
            else:
                result.calls.append(call)
            if keep == "first" or (isinstance(keep, int) and number >= keep):
                forward_aids.close()  # no later graph is kept: stop paying for them

    torch.autograd.backward = backward
    try:
        yield result
    finally:
        torch.autograd.backward = original
        forward_aids.close()
        sources.close()  # off the stack now, if it was closed inside ``loss.backward()``
