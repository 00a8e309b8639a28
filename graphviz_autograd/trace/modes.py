"""The thread's torch function mode stack, and the autograd nodes each torch call makes.

`NodeWatch` is a `TorchFunctionMode` that reports, after each torch call that created autograd
nodes, the range of sequence numbers the call gave them (``torch.autograd._get_sequence_nr()``
is the number the next node on this thread will get). `tag_made` then walks back from the
call's tensors through ``next_functions`` and tags every node numbered in that range: so the
internals of a composite op get the tag of the call that made them. The module tagger, the
source tagger and the doctor's forward watch all work this way.

`push_mode` and `remove_mode` put a mode on the stack and take it off from wherever it is;
while one is on the stack, warnings torch raises under it name the caller's line (`relay`).
Both use torch's private mode-stack functions: the public ``with mode:`` can only pop the
innermost mode, and a mode must leave the stack when its owner's block ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import torch
from torch._C._autograd import _get_sequence_nr
from torch.overrides import TorchFunctionMode

from . import relay

__all__ = [
    "NodeWatch",
    "grad_fns",
    "push_mode",
    "remove_mode",
    "stand_aside",
    "stand_back",
    "tag_made",
]

_compiling = torch.compiler.is_compiling
_OUTPUT_DEPTH: Final = 4  # how deep into nested tuples/lists/dicts to look for tensors


class NodeWatch(TorchFunctionMode):
    """A `TorchFunctionMode` that calls `made` after each torch call that created autograd
    nodes on this thread: they are numbered ``[low, high)``."""

    off = False
    """When set, calls pass straight through (the mode could not leave the stack yet)."""

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if self.off or _compiling():  # dynamo cannot trace _get_sequence_nr
            return func(*args, **kwargs) if kwargs else func(*args)
        before = _get_sequence_nr()
        out = func(*args, **kwargs) if kwargs else func(*args)
        after = _get_sequence_nr()
        if after != before:
            self.made(args if out is None else out, before, after)  # None: ``x[i] = y``
        return out

    def made(self, value: Any, low: int, high: int) -> None:
        """``value`` (the call's result, or its arguments for an in-place call returning None)
        leads back to the nodes numbered ``[low, high)`` that the call made."""
        raise NotImplementedError


relay.relay_warnings_of(NodeWatch)


def push_mode(mode: TorchFunctionMode) -> None:
    """Push ``mode`` on the thread's torch function mode stack. Until `remove_mode` takes it
    off, warnings torch raises under it name the caller's line, not the mode's (`relay`), and
    compiled code does not see it (`stand_aside`)."""
    _put_on(mode)
    _ours.append(mode)


def remove_mode(mode: TorchFunctionMode) -> bool:
    """Take ``mode`` off the thread's torch function mode stack, wherever it is: a mode someone
    pushed after ours and left there stays. False when it is not there (not pushed, or taken
    off by torch while it handles a call: the mode is removed then, and pushed back after)."""
    if mode in _aside:  # off the stack for now (`stand_aside`): it stays off
        _aside.remove(mode)
    elif not _take_off(mode):
        return False
    _ours.remove(mode)
    return True


_ours: list[TorchFunctionMode] = []
"""The modes `push_mode` pushed and `remove_mode` has not taken off yet, first pushed first."""
_aside: list[TorchFunctionMode] = []
"""Those of them `stand_aside` has taken off the stack, until `stand_back`."""


def stand_aside() -> list[TorchFunctionMode]:
    """Take the modes `push_mode` pushed off this thread's stack, for `stand_back`: while they
    are off, torch calls (and ``torch.compile``, which would trace and guard on them) do not
    see them. Returns the modes taken off, bottom first."""
    taken = [mode for mode in list(_ours) if mode not in _aside and _take_off(mode)]
    _aside.extend(taken)
    return taken


def stand_back(modes: list[TorchFunctionMode]) -> None:
    """Push back the modes `stand_aside` took off, in their order, but those `remove_mode`
    took away meanwhile."""
    for mode in modes:
        if mode in _aside:
            _aside.remove(mode)
            _put_on(mode)


def _put_on(mode: TorchFunctionMode) -> None:
    relay.hold()
    torch._C._push_on_torch_function_stack(mode)


def _take_off(mode: TorchFunctionMode) -> bool:
    size = torch._C._len_torch_function_stack()
    for index in range(size - 1, -1, -1):
        if torch._C._get_function_stack_at(index) is mode:
            break
    else:
        return False
    above = [torch._C._pop_torch_function_stack() for _ in range(size - 1 - index)]
    torch._C._pop_torch_function_stack()
    for other in reversed(above):
        torch._C._push_on_torch_function_stack(other)
    relay.release()
    return True


def _tensors(value: Any, depth: int = 0) -> Iterator[torch.Tensor]:
    """Tensors in ``value``: itself, or inside nested tuples, lists and dict values."""
    if isinstance(value, torch.Tensor):
        yield value
    elif depth < _OUTPUT_DEPTH:
        if isinstance(value, (tuple, list)):
            for item in value:
                yield from _tensors(item, depth + 1)
        elif isinstance(value, dict):
            for item in value.values():
                yield from _tensors(item, depth + 1)


def grad_fns(value: Any) -> Iterable[Any]:
    """The ``grad_fn`` (or None) of each tensor in ``value`` (see `_tensors`)."""
    if isinstance(value, torch.Tensor):
        return (value.grad_fn,)
    return [t.grad_fn for t in _tensors(value)]


def tag_made(
    nodes: Iterable[Any], key: str, low: int, high: int, tag: Callable[[int], object]
) -> None:
    """Set ``metadata[key] = tag(number)`` on each autograd node numbered in ``[low, high)``
    that ``nodes`` (``grad_fn`` or None each) lead back to through ``next_functions``. The walk
    stops at nodes tagged already and at nodes numbered outside the range (made earlier, or an
    ``AccumulateGrad``: 2**64 - 1), so each node is visited about once."""
    todo = list(nodes)
    while todo:
        node = todo.pop()
        if node is None:
            continue
        number = node._sequence_nr()
        if number < low or number >= high:
            continue
        metadata = node.metadata
        if key in metadata:
            continue
        metadata[key] = tag(number)
        for next_node, _ in node.next_functions:
            todo.append(next_node)
