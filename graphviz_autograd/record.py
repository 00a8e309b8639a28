"""Record the backward calls a program makes: the graph the engine is about to run, and the
gradients right after it ran.

`capture()` wraps ``torch.autograd.backward``, which ``Tensor.backward`` calls, for the duration
of a ``with`` block. Each call is walked before the engine runs (so saved tensors are still
there), then its leaves' ``.grad`` are summarised after. No tensor outlives the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .errors import GradvizError
from .model import Graph
from .naming import caller_names
from .walk import start_walk

__all__ = ["BackwardCall", "Capture", "Keep", "capture"]

Keep = Literal["all", "first", "last"] | int
"""Which calls to record: every one, the first, the last, or the N-th (1-based)."""


@dataclass(frozen=True, slots=True)
class BackwardCall:
    """One recorded ``backward`` call."""

    number: int
    """1-based position among all backward calls inside the capture."""
    graph: Graph
    """The graph as the engine was about to run it, with the gradients after the call."""
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


@contextmanager
def capture(
    *,
    params: Mapping[str, torch.Tensor] | Callable[[], Mapping[str, torch.Tensor]] | None = None,
    auto_names: bool = True,
    show_saved: bool = False,
    show_attrs: bool = False,
    show_inputs: bool = False,
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
        keep: ``"all"`` (default), ``"first"``, ``"last"`` or a 1-based call number; calls
            not kept are not walked, which keeps long training loops cheap.
    """
    if isinstance(keep, int) and keep < 1:
        raise GradvizError(f"call numbers start at 1, not {keep}")
    result = Capture()
    original = torch.autograd.backward

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
            graph, walker = start_walk(
                tensors,
                params=names,
                show_saved=show_saved,
                show_attrs=show_attrs,
                show_inputs=show_inputs,
            )
        except GradvizError:  # nothing to draw: let torch raise its own error
            return original(tensors, grad_tensors, *args, **kwargs)
        error = None
        try:
            return original(tensors, grad_tensors, *args, **kwargs)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise
        finally:
            call = BackwardCall(number, walker.refresh(graph), error)
            if keep == "last":
                result.calls[:] = [call]
            else:
                result.calls.append(call)

    torch.autograd.backward = backward
    try:
        yield result
    finally:
        torch.autograd.backward = original
