"""The doctor's backward watch: what it sees at each ``backward`` call. Torch is imported here.

`BackwardWatch.run` wraps each call. Before it: the leaves its graph reaches, and whether their
``.grad`` still holds an earlier call's gradient. After it: each leaf's gradient norm, the
first non-finite one, and the gradient norm per module (for `rules.slope_of`). When it
raises: why, as one of the `observations.Failure` records.
"""

from __future__ import annotations

import linecache
import math
import re
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Final

import torch

from ..model import Source
from ..trace.distributed import local
from ..trace.sources import SourceReader
from .findings import NodeRef
from .loop import LoopWatch
from .observations import (
    Call,
    Failure,
    FreedTwice,
    InPlace,
    InplaceModified,
    ModuleNorm,
    NoGraph,
    NonfiniteGrad,
    NonScalar,
    Slope,
    VersionClash,
)
from .probes import (
    CALL_KEY,
    WALK_LIMIT,
    bound_to,
    checkable,
    finite,
    leaves,
    marked,
    name_in,
    site,
    source,
)
from .rules import slope_of
from .watch import BIRTH_KEY, ForwardWatch

__all__ = ["BackwardWatch", "version_clash", "write_for"]

_VERSION_ERROR: Final = re.compile(
    r"output (\d+) of (\w+), is at version (\d+); expected version (\d+)"
)

Modules = Mapping[int, Callable[[], torch.nn.Module | None]]
"""The modules that ran, by key, in forward order (weak references)."""


class BackwardWatch:
    """See the module docstring. ``forward``: the block's forward watch (cuts and in-place
    writes explain failures); ``loop``: the training loop's watch, told what each call added
    to; ``modules``: the modules that ran, kept up to date by the caller."""

    def __init__(
        self, forward: ForwardWatch, loop: LoopWatch, modules: Modules, reader: SourceReader
    ) -> None:
        self._forward = forward
        self._loop = loop
        self._modules = modules
        self._reader = reader
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.reached: set[int] = set()
        self.nonfinite_grad: NonfiniteGrad | None = None
        self.births: set[int] = set()  # births (by index) that reached a non-finite loss
        self.slope: Slope | None = None

    def run(
        self,
        engine: Callable[..., Any],
        name: str,
        caller: FrameType,
        tensors: Any,
        grad_tensors: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``engine(tensors, grad_tensors, *args, **kwargs)`` (backward call ``name``),
        watching it."""
        outputs = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
        if not isinstance(tensors, torch.Tensor):
            tensors = tuple(outputs)  # a generator would be used up
        retain = kwargs.get("retain_graph")
        if retain is None:
            retain = args[0] if args else kwargs.get("create_graph", False)
        line = site(caller)
        call = Call(name, source(self._reader, line))
        self.calls.append(call)
        roots = [t.grad_fn if t.grad_fn is not None else _accumulator(t) for t in outputs]
        # A call without retain_graph frees what it runs: note which call ran each node.
        reached = leaves(roots, None if retain else name)
        if self._forward.births and not all(finite(t) for t in outputs if checkable(t)):
            self.births.update(marked(roots, BIRTH_KEY))
        full = self._before(reached)
        ok = False
        try:
            out = engine(tensors, grad_tensors, *args, **kwargs)
            ok = True
            return out
        except RuntimeError as exc:
            failure = self._failure(str(exc), call, outputs, roots, caller)
            if failure is not None:
                self.failures.append(failure)
            raise
        finally:
            if ok:  # a failed call added nothing to .grad
                self._loop.backward(name, line, reached, full)
            self._after(name, reached)

    def _before(self, reached: dict[int, torch.Tensor]) -> list[int]:
        """Note the ``reached`` leaves as reached; return those whose ``.grad`` holds an earlier
        call's gradient, not zeroed since."""
        full: list[int] = []
        for key, leaf in reached.items():
            self.reached.add(key)
            grad = local(leaf.grad)  # a DTensor's own shard: no collective call
            if grad is None or not self._loop.wrote(key):
                continue
            with torch.no_grad():
                if bool(grad.any()):
                    full.append(key)
        return full

    def _after(self, call: str, reached: dict[int, torch.Tensor]) -> None:
        grads: dict[int, torch.Tensor] = {}
        for key, leaf in reached.items():
            grad = local(leaf.grad)
            if grad is not None and checkable(grad):
                grads[key] = grad
        norms = _norms(grads)
        bad = tuple(key for key, norm in norms.items() if not math.isfinite(norm))
        if bad and self.nonfinite_grad is None:
            self.nonfinite_grad = NonfiniteGrad(call, bad)
        scale = self._loop.taken_scale()  # a GradScaler's: the norms the model really has
        if self.slope is None and len(self._modules) > 1:
            true = {key: norm / scale for key, norm in norms.items()}
            self.slope = slope_of(call, self._module_norms(true))

    def _module_norms(self, norms: dict[int, float]) -> list[ModuleNorm]:
        """The norm of each module's own gradients, for modules whose gradients are all
        known and finite, in forward order; embeddings left out."""
        out: list[ModuleNorm] = []
        for key, ref in self._modules.items():
            module = ref()
            if module is None or type(module).__name__.endswith("Embedding"):
                continue  # an embedding's gradient touches only the rows looked up: sparse
            own = [norms[id(p)] for p in module.parameters(recurse=False) if id(p) in norms]
            if own and all(math.isfinite(n) for n in own):
                out.append(ModuleNorm(key, math.sqrt(sum(n * n for n in own))))
        return out

    # -- failures -----------------------------------------------------------------------------

    def _failure(
        self,
        text: str,
        call: Call,
        outputs: list[torch.Tensor],
        roots: list[Any],
        caller: FrameType,
    ) -> Failure | None:
        """What made the call fail with the error ``text``, when the doctor knows."""
        if "backward through the graph a second time" in text:
            return self._freed_twice(call, roots, caller)
        if "modified by an inplace operation" in text:
            return self._inplace_modified(call, version_clash(text), roots)
        if "does not require grad and does not have a grad_fn" in text:
            tensor = next((t for t in outputs if t.grad_fn is None and not t.requires_grad), None)
            return self._no_graph(call, tensor, caller)
        if "grad can be implicitly created only for scalar outputs" in text:
            tensor = next((t for t in outputs if t.numel() != 1), outputs[0])
            name = name_in(caller, tensor) or "the tensor"
            return NonScalar(call, name, tuple(tensor.shape))
        return None

    def _freed_twice(self, call: Call, roots: list[Any], caller: FrameType) -> FreedTwice:
        # The failed call freed its own nodes as it went: the culprit is an earlier call's.
        node, via = _first_unreadable(roots, "freed", call.name)
        earlier = node.metadata.get(CALL_KEY) if node is not None else None
        freed_by = next((c for c in self.calls if c.name == earlier), None)
        via_ref = self._node(via)
        carried = None
        if via is not None:  # a new graph grown on an old one: by what?
            carried = bound_to(caller, node) or _carried(via_ref)
        return FreedTwice(call, self._node(node), freed_by, via_ref, carried)

    def _inplace_modified(
        self, call: Call, clash: VersionClash | None, roots: list[Any]
    ) -> InplaceModified:
        node, _ = _first_unreadable(roots, "inplace operation")
        write = write_for(clash, self._forward.inplace)
        ref = (
            None
            if write is None
            else NodeRef(None, write.op, None, source(self._reader, write.site))
        )
        return InplaceModified(call, self._node(node), ref, clash)

    def _no_graph(self, call: Call, tensor: torch.Tensor | None, caller: FrameType) -> NoGraph:
        if tensor is None:
            return NoGraph(call, "the tensor", None, False)
        name = name_in(caller, tensor) or "the tensor"
        cut = self._forward.cut_of.get(tensor)  # type: ignore[no-untyped-call]
        block = _block_of(cut.source, cut.how) if cut is not None and cut.source else None
        return NoGraph(call, name, cut, cut is None and tensor.is_inference(), block)

    def _node(self, fn: Any) -> NodeRef | None:
        return None if not fn else NodeRef(None, fn.name(), None, self._reader(fn))


def version_clash(text: str) -> VersionClash | None:
    """What autograd's "modified by an inplace operation" error ``text`` says, if it says."""
    match = _VERSION_ERROR.search(text)
    return None if match is None else VersionClash(match[2], int(match[3]), int(match[4]))


def write_for(clash: VersionClash | None, writes: list[InPlace]) -> InPlace | None:
    """The in-place write most likely to have made ``clash``: the last to a tensor made by
    the same op, at the same version if any; else the last write."""
    if clash is None:
        return writes[-1] if writes else None
    same = [
        w for w in writes if w.was is not None and re.sub(r"Backward\d*$", "", w.was) == clash.op
    ]
    exact = [w for w in same if w.version == clash.version]
    found = exact or same or writes
    return found[-1] if found else None


def _norms(grads: dict[int, torch.Tensor]) -> dict[int, float]:
    """The 2-norm of each gradient, by key."""
    if not grads:
        return {}
    with torch.no_grad():
        try:  # one call for all the norms, one list of floats out
            found = torch.stack(torch._foreach_norm(list(grads.values()))).tolist()
        except RuntimeError:  # gradients on several devices or of several dtypes
            found = [float(torch.linalg.vector_norm(g)) for g in grads.values()]
    return dict(zip(grads, found, strict=True))


def _accumulator(tensor: torch.Tensor) -> Any:
    """A leaf's ``AccumulateGrad`` node (None when it needs no grad)."""
    if not tensor.requires_grad:
        return None
    view = tensor.view_as(tensor).grad_fn
    return None if view is None else view.next_functions[0][0]


def _block_of(line: Source, how: str) -> Source | None:
    """The ``with torch.no_grad():`` line whose block holds ``line``: the nearest line above
    it, indented less, that opens a ``with`` naming the cut (``no_grad``, ``inference_mode``)."""
    word = "no_grad" if "no_grad" in how else "inference_mode" if "inference" in how else None
    if word is None:
        return None
    text = linecache.getline(line.file, line.line)
    indent = len(text) - len(text.lstrip())
    for number in range(line.line - 1, max(0, line.line - 200), -1):
        above = linecache.getline(line.file, number)
        stripped = above.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(above) - len(stripped) < indent:
            if stripped.startswith(("with ", "async with ")) and word in stripped:
                return Source(line.file, number, stripped.rstrip())
            indent = len(above) - len(stripped)  # a block further out may hold it
            if indent == 0:
                return None
    return None


def _first_unreadable(roots: list[Any], want: str, call: str | None = None) -> tuple[Any, Any]:
    """The first node (breadth first from the roots) one of whose saved tensors raises an
    error saying ``want`` (``"freed"`` by an earlier backward, modified by an ``"inplace
    operation"`` since), and the last node on the way there that ``call`` ran (None when there
    is none: the same graph run twice); Nones when not found. With ``call``, the nodes that
    call ran are passed over: a failed call frees its own nodes as it goes."""
    todo: list[tuple[Any, Any]] = [(r, None) for r in roots if r is not None]
    seen: set[int] = set()
    while todo and len(seen) < WALK_LIMIT:
        fn, parent = todo.pop(0)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        own = call is not None and fn.metadata.get(CALL_KEY, call) == call
        if not own and _unreadable(fn, want):
            return fn, parent
        todo.extend((n, fn if own else parent) for n, _ in fn.next_functions if n is not None)
    return None, None


def _carried(ref: NodeRef | None) -> str | None:
    """A name both assigned and passed on the line of ``ref`` (``out, h = rnn(x, h)``: ``h``)."""
    code = ref.source.code if ref is not None and ref.source is not None else None
    if not code or "=" not in code:
        return None
    target, _, value = code.partition("=")
    if not target.strip() or target.rstrip()[-1] in "=!<>":
        return None
    assigned = re.findall(r"[A-Za-z_]\w*", target)
    passed = set(re.findall(r"[A-Za-z_]\w*", value))
    return next((name for name in assigned if name in passed), None)


def _unreadable(fn: Any, want: str) -> bool:
    """Whether one of ``fn``'s saved tensors raises an error saying ``want``."""
    for attr in dir(fn):
        if attr.startswith("_saved_"):
            try:
                getattr(fn, attr)
            except RuntimeError as exc:
                if want in str(exc):
                    return True
    return False
