"""Which ``nn.Module`` made each autograd node.

Inside ``with tag_modules(): out = model(x)``, every node the forward creates gets the qualified
path of the innermost module whose ``forward`` was running (``"model.encoder.layers.1.linear1"``)
in ``node.metadata["gradviz.module"]``; `module_of` reads it back. Nodes made outside any module
(the loss, say) and leaves (``AccumulateGrad``) get no tag.

A module called more than once in one forward (one ``relu`` module applied at several points of
a block) is told apart by call: its second call is ``<path>@2``, its third ``<path>@3``, and the
modules called inside a call are named inside it (``model.block@2.linear``: the ``linear`` of
the second ``block`` call). Renderers draw each call as a box of its own, so ops from different
depths of the model are not pulled into one box. Calls are counted within one outermost
forward: a model called once per step is ``model`` at every step (and the two outermost calls
of a siamese network share their names).

How it works, all undone when the block ends:

- Global module forward pre/post hooks (they apply to every module, including ones created
  before the block) keep a stack of running modules. At each push and pop the tagger notes the
  thread's autograd sequence number (``torch.autograd._get_sequence_nr()``, the number the next
  node will get), so the forward is cut into intervals ``[start, next start)`` each owned by one
  module path: the innermost running module at that time.
- A `TorchFunctionMode`, on the thread's mode stack only while an outermost module forward runs
  (the loss, backward and optimizer pay nothing), sees each torch call the user's Python code
  makes inside it. When a call created nodes (the sequence number moved), the tagger walks back
  from the call's tensors through ``next_functions`` and tags every untagged node numbered
  inside the current forward by looking its number up in the intervals. The walk stops at
  tagged nodes and at nodes numbered before the outermost module started, so each node is
  visited about once. Nodes the mode never sees directly (the internals of composite ops like
  ``cross_entropy``, custom ``autograd.Function`` nodes, ops inside
  ``F.multi_head_attention_forward``) are reached from a later call or from the module's
  output, and still get the module that was running when they were made.
- The post hook is registered with ``always_call=True``, so a forward that raises still pops its
  module; it pops by identity (everything above the module too), so an interrupted inner forward
  cannot leave a stale entry under a finished outer one. (A ``KeyboardInterrupt`` is not an
  ``Exception``: torch skips the hook then, and the stack is reset when the block ends.)
- ``watch_ops=False`` leaves the mode out: nodes are then found only by walking back from each
  module's output, which is cheaper and misses what no module output leads back to.

Only path strings are stored: neither the metadata nor the tagger's caches keep a module alive
(caches hold weak references). Paths come from a namespace (by default the locals and globals of
the code that enters the block): ``named_modules(prefix=variable)`` for every module there.
A module not found there is named from its parent on the stack (``<parent path>.<name in
parent>``), else ``<ClassName>#<n>`` (numbered in order of first appearance).

Limits: only the thread that entered the block is tagged (sequence numbers are per thread);
nodes made inside a module's forward that no later torch call nor the module's output leads back
to (a tensor only stored on ``self``, made by an op the mode does not see) stay untagged; ops run
by the module's own forward hooks (registered on the module) belong to the parent module; inside
a ``torch.compile``d module the hooks and the mode stand aside (they are not traced), so its nodes
get the compiled module's path as a whole. With the default namespace in a function, reading
its locals leaves CPython's (< 3.13) snapshot dict on that frame, as ``locals()`` does: a module
deleted from the function's variables then lives until the function returns or its locals are
read again. Pass ``namespace=`` to avoid this.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings
import weakref
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any, Final, cast

import torch
from torch._C._autograd import _get_sequence_nr
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from ..errors import GradvizError

__all__ = [
    "METADATA_KEY",
    "ModuleTagger",
    "module_of",
    "module_paths",
    "relay_warnings_of",
    "tag_modules",
    "user_frame",
]

METADATA_KEY: Final = "gradviz.module"
"""The key in ``node.metadata`` holding the qualified path of the module that made the node."""

Namespace = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""Where module variable names come from: a mapping, or a function returning one (called each
time an unknown module is met, so it can see variables bound after the block started)."""

_SKIP = (
    str(Path(torch.__file__).parent) + os.sep,  # the separator: not torchvision
    str(Path(__file__).parent.parent) + os.sep,  # the whole package
    str(Path(contextlib.__file__ or "contextlib.py")),
)
_compiling = torch.compiler.is_compiling
_OUTPUT_DEPTH = 4  # how deep into nested tuples/lists/dicts to look for tensors


# ---------------------------------------------------------------------------------------------
# Names


def _module_items(pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, torch.nn.Module]]:
    """``(path, module)`` for every module reachable from ``pairs`` (variable name, value).

    Modules that no other module in ``pairs`` contains come first, so ``model.encoder`` wins
    over a second variable ``encoder = model.encoder``; otherwise the first path seen wins
    (``named_modules`` order). Names starting with ``_`` are skipped."""
    found = [
        (name, value)
        for name, value in pairs
        if not name.startswith("_") and isinstance(value, torch.nn.Module)
    ]
    if not found:
        return
    inner: set[int] = set()
    for _, module in found:
        inner.update(id(sub) for sub in module.modules() if sub is not module)
    roots = [pair for pair in found if id(pair[1]) not in inner]
    rest = [pair for pair in found if id(pair[1]) in inner]
    seen: set[int] = set()
    for name, module in roots + rest:
        for path, sub in module.named_modules(prefix=name):
            if id(sub) not in seen:
                seen.add(id(sub))
                yield path, sub


def module_paths(namespace: Mapping[str, Any]) -> dict[int, str]:
    """``id(module) -> qualified path`` for every ``nn.Module`` reachable from the values of
    ``namespace`` through ``named_modules(prefix=<variable name>)``: ``"model.0"``,
    ``"model.encoder.layers.1.linear1"``. Ids are only meaningful while the modules live."""
    return {id(module): path for path, module in _module_items(list(namespace.items()))}


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The innermost frame outside torch, gradviz and contextlib, from ``frame`` outward."""
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame = frame.f_back
    return frame


def _frame_pairs(frame: FrameType) -> list[tuple[str, Any]]:
    """A frame's locals, then its globals not shadowed by a local."""
    local = frame.f_locals
    pairs = list(local.items())
    if local is not frame.f_globals:
        pairs.extend((k, v) for k, v in frame.f_globals.items() if k not in local)
    return pairs


def _ref(module: torch.nn.Module) -> Callable[[], torch.nn.Module | None]:
    try:
        return weakref.ref(module)
    except TypeError:  # a module class with __slots__ and no __weakref__: do not cache it
        return lambda: None


# ---------------------------------------------------------------------------------------------
# Reading tags


def module_of(grad_fn: object) -> str | None:
    """The qualified path of the innermost module whose forward made ``grad_fn``, or ``None``
    (made outside any module or outside a `tag_modules` block, a leaf's ``AccumulateGrad``,
    or ``None`` itself)."""
    metadata = getattr(grad_fn, "metadata", None)
    if not isinstance(metadata, dict):
        return None
    value = metadata.get(METADATA_KEY)
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------------------------
# Tagging


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


class _Mode(NodeWatch):
    """Tags the nodes each torch call made while a module's forward is running. On the thread's
    mode stack only from the start of an outermost forward to its end."""

    def __init__(self, tagger: ModuleTagger) -> None:
        super().__init__()
        self.tagger = tagger

    def made(self, value: Any, low: int, high: int) -> None:
        if self.tagger._starts:
            self.tagger._sweep(grad_fns(value), high)


def push_mode(mode: TorchFunctionMode) -> None:
    """Push ``mode`` on the thread's torch function mode stack. Until `remove_mode` takes it
    off, warnings torch raises under it name the caller's line, not the mode's (`_relay`)."""
    _hold_relay()
    torch._C._push_on_torch_function_stack(mode)


def remove_mode(mode: TorchFunctionMode) -> bool:
    """Take ``mode`` off the thread's torch function mode stack, wherever it is: a mode someone
    pushed after ours and left there stays. False when it is not there (not pushed, or taken
    off by torch while it handles a call: the mode is removed then, and pushed back after)."""
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
    _release_relay()
    return True


# ---------------------------------------------------------------------------------------------
# Warnings raised under a mode
#
# The mode's ``__torch_function__`` is a Python frame between the code that calls a torch
# function and the function. A warning torch raises in C++ names the innermost Python frame,
# and one raised in Python names the frame ``stacklevel`` frames up from the function that
# warns: both would name the mode's frame, in this file, instead of the caller's line. While a
# mode is pushed, a filter first in ``warnings.filters`` lets every warning located in this
# module through ("always", so that no filter decides on it by the wrong file, module or
# registry), and `_relay`, which the interpreter calls (as ``warnings._showwarnmsg``) to show a
# warning that passed the filters, issues such a warning again with `warnings.warn_explicit`
# at the frame it names without the modes. The filters (``-W``, pytest's ``filterwarnings``,
# ``catch_warnings``), the caller's ``__warningregistry__`` ("default", "once") and "error"
# then act on it as they would without gradviz. Why not catch warnings around each call: that
# costs every torch call, and ``catch_warnings`` is not thread-safe. Limits: a warning whose
# ``stacklevel`` reaches past the mode's frame (into torch's ``handle_torch_function``) keeps
# the frame it names; a filter added while a mode is pushed goes before ours, and one that
# names a module matching ours (``module="graphviz_autograd"``) decides by the mode's frame.

# Modules whose mode frames the relay knows: this one, and the doctor's forward watch.
_RELAY_MODULES: Final = (__name__, "graphviz_autograd.doctor.watch")
_RELAY_FILTER: Final = (
    "always",
    None,
    Warning,
    re.compile("(?:" + "|".join(map(re.escape, _RELAY_MODULES)) + r")\Z"),
    0,
)
_relay_lock = threading.Lock()
_relay_holds = 0  # pushed modes, on every thread
_shown_by: Callable[[warnings.WarningMessage], object] | None = None  # what `_relay` replaced


def _hold_relay() -> None:
    global _relay_holds, _shown_by
    with _relay_lock:
        _relay_holds += 1
        shown_by = getattr(warnings, "_showwarnmsg", None)  # what shows a warning (CPython)
        if _relay_holds > 1 or shown_by is None:
            return
        # Inserted without `warnings._filters_mutated()`: that would make every registry forget
        # which warnings it has shown, and a "default" warning would show again after each
        # forward. An "always" filter adds nothing to a registry, so none has to forget.
        _filters().insert(0, _RELAY_FILTER)
        if shown_by is not _relay:
            _shown_by = shown_by
            warnings._showwarnmsg = _relay  # type: ignore[attr-defined]


def _release_relay() -> None:
    global _relay_holds
    with _relay_lock:
        _relay_holds -= 1
        if _relay_holds > 0:
            return
        filters = _filters()  # maybe another list by now (catch_warnings): look it up again
        for index, entry in enumerate(filters):
            if entry is _RELAY_FILTER:
                del filters[index]
                break
        if warnings._showwarnmsg is _relay and _shown_by is not None:  # type: ignore[attr-defined]
            warnings._showwarnmsg = _shown_by  # type: ignore[attr-defined]


def _filters() -> list[Any]:
    return cast("list[Any]", warnings.filters)  # a list, typed as a Sequence


def _relay(msg: warnings.WarningMessage) -> None:
    """Show ``msg``; or, when it names the frame of a mode's ``__torch_function__``, issue it
    again at the frame it names without the mode(s)."""
    caller = _outside_modes(_mode_frame(msg.filename, msg.lineno)) if _relay_holds else None
    if caller is None:
        if _shown_by is not None:
            _shown_by(msg)
        return
    # A filter put before ours ("default", added inside the block) has noted the warning in
    # this module's registry, by the mode's line: forget it, or the same warning from another
    # line of the caller's would never show.
    registry = globals().get("__warningregistry__")
    if isinstance(registry, dict):
        registry.clear()
    scope = caller.f_globals  # what `warnings.warn` passes for a warning from this frame
    warnings.warn_explicit(
        msg.message,
        msg.category,
        caller.f_code.co_filename,
        caller.f_lineno,
        scope.get("__name__", "<string>"),
        scope.setdefault("__warningregistry__", {}),
        scope,
        msg.source,
    )


def _mode_frame(filename: str, line: int) -> FrameType | None:
    """The innermost frame of a mode's ``__torch_function__`` at ``filename:line``, if any."""
    if not any(filename == code.co_filename for code in _MODE_CODES):
        return None
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code in _MODE_CODES and frame.f_lineno == line:
            return frame
        frame = frame.f_back
    return None


def _outside_modes(frame: FrameType | None) -> FrameType | None:
    """The frame that called the torch function a mode's ``__torch_function__`` (``frame``)
    was handed, past any other mode's: what a warning naming ``frame`` names without them."""
    while frame is not None and frame.f_code in _MODE_CODES:
        frame = frame.f_back
        if frame is not None and frame.f_code is _HANDLE_TORCH_FUNCTION:
            # A function written in Python hands itself to the mode through
            # handle_torch_function: skip that and the function's outer call.
            frame = frame.f_back
            frame = frame.f_back if frame is not None else None
    return frame


_HANDLE_TORCH_FUNCTION: Final = torch.overrides.handle_torch_function.__code__
_MODE_CODES: set[CodeType] = {NodeWatch.__torch_function__.__code__}


def relay_warnings_of(mode: type[TorchFunctionMode]) -> None:
    """Warnings torch raises under ``mode`` (a mode class defined in one of `_RELAY_MODULES`)
    name the caller's line, as they do under `NodeWatch`."""
    _MODE_CODES.add(mode.__torch_function__.__code__)


class ModuleTagger:
    """Context manager: tag every autograd node made inside an ``nn.Module`` forward with the
    module's qualified path (see the module docstring). ``tag_modules()`` makes one.

    ``namespace`` names the modules: a mapping (a script's globals), a function returning one,
    or ``None`` for the locals and globals of the code that enters the ``with`` block.

    ``watch_ops=False`` leaves out the `TorchFunctionMode`: nodes are then found only from each
    module's output, which is cheaper but misses nodes no module output leads back to (an
    auxiliary loss kept on ``self``, a tensor appended to a list).
    """

    def __init__(self, namespace: Namespace | None = None, *, watch_ops: bool = True) -> None:
        self._namespace = namespace
        self._watch_ops = watch_ops
        self._frame: FrameType | None = None  # the code that entered the block, inside it
        self._thread = 0
        self._handles: list[RemovableHandle] = []
        self._mode = _Mode(self)
        self._mode_pushed = False
        # running modules, innermost last: (module, path, call: the path with its call number)
        self._stack: list[tuple[torch.nn.Module, str, str]] = []
        # during an outermost forward: call path -> how many calls of it began so far
        self._calls: dict[str, int] = {}
        # while the stack is not empty: node numbers >= _starts[i] (and < _starts[i + 1])
        # were made while _owners[i] was the innermost running module
        self._starts: list[int] = []
        self._owners: list[str] = []
        # id(module) -> (weak ref, path), for every module met so far
        self._known: dict[int, tuple[Callable[[], torch.nn.Module | None], str]] = {}
        # the same for the namespace's modules, built when first needed
        self._named: dict[int, tuple[Callable[[], torch.nn.Module | None], str]] | None = None
        # id(parent) -> (weak ref, {id(sub): relative name})
        self._children: dict[int, tuple[Callable[[], torch.nn.Module | None], dict[int, str]]] = {}
        self._anonymous: dict[str, int] = {}

    # -- context manager -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the hooks are installed (inside the ``with`` block)."""
        return bool(self._handles)

    def __enter__(self) -> ModuleTagger:
        if self._handles:
            raise GradvizError("this ModuleTagger is already active")
        self._thread = threading.get_ident()
        if self._namespace is None:
            self._frame = user_frame(sys._getframe())
        self._handles = [
            register_module_forward_pre_hook(self._pre_hook),
            register_module_forward_hook(self._post_hook, always_call=True),
        ]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._end_forward()  # a forward left by KeyboardInterrupt, say
        self._known.clear()
        self._named = None
        self._children.clear()
        self._anonymous.clear()
        self._frame = None

    # -- hooks ---------------------------------------------------------------------------------

    def _pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if _compiling() or threading.get_ident() != self._thread:
            return None
        try:
            path = self._resolve(module)
        except Exception:  # never break the user's forward over a name
            path = self._anonymous_name(module)
        call = self._call(path)
        if not self._stack:
            self._starts[:] = [_get_sequence_nr()]
            self._owners[:] = [call]
            if self._watch_ops and not self._mode_pushed:
                push_mode(self._mode)
                self._mode_pushed = True
        else:
            self._mark(call)
        self._stack.append((module, path, call))
        return None

    def _call(self, path: str) -> str:
        """The name of the call of the module at ``path`` that begins now: ``path`` inside the
        call of the running module whose path it extends (``block@2.linear``, the ``linear``
        of the second ``block`` call), then ``@n`` from its second call in this forward on."""
        for _, outer, outer_call in reversed(self._stack):
            if path.startswith(outer) and path[len(outer) : len(outer) + 1] == ".":
                path = outer_call + path[len(outer) :]
                break
        number = self._calls.get(path, 0) + 1
        self._calls[path] = number
        return path if number == 1 else f"{path}@{number}"

    def _post_hook(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if _compiling() or threading.get_ident() != self._thread:
            return None
        stack = self._stack
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] is module:
                break
        else:
            return None  # its forward began before the block, or our pre hook did not run
        if self._mode_pushed:
            with torch._C.DisableTorchFunction():  # our own ``.grad_fn`` reads skip the mode
                self._sweep(grad_fns(output))
        else:
            self._sweep(grad_fns(output))
        del stack[index:]
        if stack:
            self._mark(stack[-1][2])
        else:
            self._end_forward()
        return None

    def _end_forward(self) -> None:
        self._stack.clear()
        self._calls.clear()
        self._starts.clear()
        self._owners.clear()
        if self._mode_pushed:
            self._mode_pushed = False
            remove_mode(self._mode)

    def _mark(self, path: str) -> None:
        """From the next node on, ``path`` is the innermost running module call."""
        now = _get_sequence_nr()
        if self._starts[-1] == now:
            self._owners[-1] = path
        else:
            self._starts.append(now)
            self._owners.append(path)

    def _sweep(self, nodes: Iterable[Any], high: int | None = None) -> None:
        """Tag the untagged nodes made during the current outermost forward (numbered below
        ``high``, by default the next number) that ``nodes`` (``grad_fn`` or ``None`` each)
        lead back to."""
        starts = self._starts
        if not starts:
            return
        low = starts[0]
        if high is None:
            high = _get_sequence_nr()
        owners = self._owners
        todo = list(nodes)
        while todo:
            node = todo.pop()
            if node is None:
                continue
            number = node._sequence_nr()
            if number < low or number >= high:  # older, or AccumulateGrad (2**64 - 1)
                continue
            metadata = node.metadata
            if METADATA_KEY in metadata:
                continue
            metadata[METADATA_KEY] = owners[bisect_right(starts, number) - 1]
            for next_node, _ in node.next_functions:
                if next_node is not None:
                    todo.append(next_node)

    # -- names ---------------------------------------------------------------------------------

    def _resolve(self, module: torch.nn.Module) -> str:
        key = id(module)
        hit = self._known.get(key)
        if hit is not None and hit[0]() is module:
            return hit[1]
        path = self._lookup(module, rebuild=False)
        if path is None and self._stack:
            owner, owner_path, _ = self._stack[-1]
            path = self._in_parent(owner, owner_path, module)
        if path is None:
            path = self._lookup(module, rebuild=True)
        if path is None:
            path = self._anonymous_name(module)
        self._known[key] = (_ref(module), path)
        return path

    def _lookup(self, module: torch.nn.Module, *, rebuild: bool) -> str | None:
        if self._named is None or rebuild:
            self._named = {id(sub): (_ref(sub), path) for path, sub in _module_items(self._pairs())}
        hit = self._named.get(id(module))
        return hit[1] if hit is not None and hit[0]() is module else None

    def _pairs(self) -> list[tuple[str, Any]]:
        namespace = self._namespace
        if namespace is None:
            return _frame_pairs(self._frame) if self._frame is not None else []
        if not isinstance(namespace, Mapping):
            namespace = namespace()
        return list(namespace.items())

    def _in_parent(
        self, owner: torch.nn.Module, owner_path: str, module: torch.nn.Module
    ) -> str | None:
        hit = self._children.get(id(owner))
        fresh = hit is None or hit[0]() is not owner
        while True:
            if fresh or hit is None:
                names = {id(sub): name for name, sub in owner.named_modules() if sub is not owner}
                hit = (_ref(owner), names)
                self._children[id(owner)] = hit
            name = hit[1].get(id(module))
            if name is not None:
                return f"{owner_path}.{name}"
            if fresh:
                return None
            fresh = True  # the map may predate the child: build it once more

    def _anonymous_name(self, module: torch.nn.Module) -> str:
        kind = type(module).__name__
        number = self._anonymous.get(kind, 0) + 1
        self._anonymous[kind] = number
        return f"{kind}#{number}"


def tag_modules(namespace: Namespace | None = None, *, watch_ops: bool = True) -> ModuleTagger:
    """``with tag_modules(): out = model(x)``: tag every autograd node made inside an
    ``nn.Module`` forward with the module's qualified path; read it with `module_of`.
    ``namespace`` defaults to the locals and globals of the code entering the block."""
    return ModuleTagger(namespace, watch_ops=watch_ops)
