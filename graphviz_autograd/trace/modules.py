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
A module not found there is named inside its parent on the stack (the innermost running
module), so that it is drawn in its parent's box: by its name in the parent's submodules, else
by the parent's attribute or the calling code's variable that holds it (transformers' rotary
``Func`` module is ``<attention path>.apply_rotary_pos_emb``), else
``<parent path>.<ClassName>#<n>`` (counted in each call of the parent); with no parent running,
``<ClassName>#<n>`` (numbered in order of first appearance). See `module_names`.

Limits: only the thread that entered the block is tagged (sequence numbers are per thread);
nodes made inside a module's forward that no later torch call nor the module's output leads back
to (a tensor only stored on ``self``, made by an op the mode does not see) stay untagged; ops run
by the module's own forward hooks (registered on the module) belong to the parent module; inside
a ``torch.compile``d module the hooks and the mode stand aside (`aside`: compiled code never
traces them), so its nodes get the compiled module's path as a whole. With the default
namespace in a function, reading its locals leaves CPython's (< 3.13) snapshot dict on that
frame, as ``locals()`` does: a module deleted from the function's variables then lives until
the function returns or its locals are read again. Pass ``namespace=`` to avoid this. The same
holds, whatever the namespace, for the code that calls a module no variable of the namespace
names inside a running module: its locals are read once, to name the module.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final

import torch
from torch._C._autograd import _get_sequence_nr

from ..errors import GradvizError
from .aside import ForwardHooks
from .frames import user_caller
from .modes import NodeWatch, grad_fns, push_mode, remove_mode, tag_made
from .module_names import ModuleNames, Namespace, Running

__all__ = [
    "METADATA_KEY",
    "ModuleTagger",
    "module_of",
    "tag_modules",
]

METADATA_KEY: Final = "gradviz.module"
"""The key in ``node.metadata`` holding the qualified path of the module that made the node."""

_compiling = torch.compiler.is_compiling


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


class _Mode(NodeWatch):
    """Tags the nodes each torch call made while a module's forward is running. On the thread's
    mode stack only from the start of an outermost forward to its end."""

    def __init__(self, tagger: ModuleTagger) -> None:
        super().__init__()
        self.tagger = tagger

    def made(self, value: Any, low: int, high: int) -> None:
        if self.tagger._starts:
            self.tagger._sweep(grad_fns(value), high)


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
        self._names = ModuleNames(namespace)
        self._watch_ops = watch_ops
        self._thread = 0
        self._hooks: ForwardHooks | None = None
        self._mode = _Mode(self)
        self._mode_pushed = False
        # running modules, innermost last
        self._stack: list[Running] = []
        # during an outermost forward: call path -> how many calls of it began so far
        self._calls: dict[str, int] = {}
        # while the stack is not empty: node numbers >= _starts[i] (and < _starts[i + 1])
        # were made while _owners[i] was the innermost running module
        self._starts: list[int] = []
        self._owners: list[str] = []

    # -- context manager -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the hooks are installed (inside the ``with`` block)."""
        return self._hooks is not None

    def __enter__(self) -> ModuleTagger:
        if self._hooks is not None:
            raise GradvizError("this ModuleTagger is already active")
        self._thread = threading.get_ident()
        if self._names.namespace is None:
            self._names.frame = user_caller()
        self._hooks = ForwardHooks(self._pre_hook, self._post_hook).install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._hooks is not None:
            self._hooks.remove()
            self._hooks = None
        self._end_forward()  # a forward left by KeyboardInterrupt, say
        self._names.clear()

    # -- hooks ---------------------------------------------------------------------------------

    def _pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if _compiling() or threading.get_ident() != self._thread:
            return None
        names = self._names
        try:
            path = names.resolve(module, self._stack[-1] if self._stack else None)
        except Exception:  # never break the user's forward over a name
            path = names.anonymous(module)
        call = self._call(path)
        if not self._stack:
            self._starts[:] = [_get_sequence_nr()]
            self._owners[:] = [call]
            if self._watch_ops and not self._mode_pushed:
                push_mode(self._mode)
                self._mode_pushed = True
        else:
            self._mark(call)
        self._stack.append(Running(module, path, call))
        return None

    def _call(self, path: str) -> str:
        """The name of the call of the module at ``path`` that begins now: ``path`` inside the
        call of the running module whose path it extends (``block@2.linear``, the ``linear``
        of the second ``block`` call), then ``@n`` from its second call in this forward on."""
        for outer in reversed(self._stack):
            prefix = outer.path
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] == ".":
                path = outer.call + path[len(prefix) :]
                break
        number = self._calls.get(path, 0) + 1
        self._calls[path] = number
        return path if number == 1 else f"{path}@{number}"

    def _post_hook(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if _compiling() or threading.get_ident() != self._thread:
            return None
        stack = self._stack
        for index in range(len(stack) - 1, -1, -1):
            if stack[index].module is module:
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
            self._mark(stack[-1].call)
        else:
            self._end_forward()
        return None

    def _end_forward(self) -> None:
        self._stack.clear()
        self._calls.clear()
        self._starts.clear()
        self._owners.clear()
        self._names.end_forward()
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
        starts, owners = self._starts, self._owners
        if not starts:
            return
        if high is None:
            high = _get_sequence_nr()

        def owner(number: int) -> str:  # the module call running when node ``number`` was made
            return owners[bisect_right(starts, number) - 1]

        tag_made(nodes, METADATA_KEY, starts[0], high, owner)


def tag_modules(namespace: Namespace | None = None, *, watch_ops: bool = True) -> ModuleTagger:
    """``with tag_modules(): out = model(x)``: tag every autograd node made inside an
    ``nn.Module`` forward with the module's qualified path; read it with `module_of`.
    ``namespace`` defaults to the locals and globals of the code entering the block."""
    return ModuleTagger(namespace, watch_ops=watch_ops)
