"""The doctor's eyes: a forward watch and a backward observer. Torch is imported here only.

`ForwardWatch` is a `TorchFunctionMode` on the thread's mode stack for the whole block. For
each torch call it
- tags the nodes the call made with its line (as `sources.SourceTagger` does);
- notes where a tensor that needs grad was cut (``.detach()``, ``.data``, ``torch.no_grad()``,
  ``inference_mode``), with the parameters behind it, and which later tensors come from a cut;
- notes in-place writes to tensors that need grad (op, line, version after);
- notes reads of a non-leaf's ``.grad``;
- until the first is found, checks each floating-point output for NaN/Inf (one sum, then
  ``isfinite`` only when the sum is not finite) and, when all tensor inputs are finite, notes
  the call as the birth of a non-finite value.

`Doctor` sees each ``backward`` call (`run`): before it, the leaves its graph reaches and
whether their ``.grad`` still holds an earlier call's gradient; after it, each parameter's
gradient norm; when it fails, why. `Doctor.findings` turns all this into `Finding`\\ s.
"""

from __future__ import annotations

import math
import os
import re
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import FrameType
from typing import Any, Final

import torch
from torch._C._autograd import _get_sequence_nr
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from ..model import Graph, Source
from ..trace import sources
from ..trace.frames import user_frame
from ..trace.modes import push_mode, remove_mode
from ..trace.module_names import module_paths
from ..trace.naming import names_in
from ..trace.relay import relay_warnings_of
from ..trace.sources import SourceReader
from .findings import Finding, NodeRef

__all__ = ["FACTOR", "Doctor"]

FACTOR: Final = 1e4
"""`vanishing` / `exploding`: the gradient norm of the first module with parameters (in forward
order) and that of the last differ by more than this factor in one backward call."""

_STDLIB: Final = os.path.dirname(os.__file__) + os.sep
_CALL_KEY: Final = "gradviz.call"  # node.metadata: the backward call that first ran the node
_WALK_LIMIT: Final = 200_000  # nodes per walk looking for leaves
_DETACH: Final = torch.Tensor.detach
_DATA: Final = torch.Tensor.data.__get__  # type: ignore[attr-defined,unused-ignore]
_GRAD: Final = torch.Tensor.grad.__get__  # type: ignore[union-attr]
_INPLACE_DUNDERS: Final = frozenset(
    "__setitem__ __iadd__ __isub__ __imul__ __itruediv__ __ifloordiv__ __imod__ __ipow__ "
    "__imatmul__ __iand__ __ior__ __ixor__ __ilshift__ __irshift__".split()
)
_VERSION_ERROR: Final = re.compile(
    r"output (\d+) of (\w+), is at version (\d+); expected version (\d+)"
)
_compiling = torch.compiler.is_compiling
_grad_enabled = torch.is_grad_enabled
_set_grad_enabled = torch._C._set_grad_enabled


def _site(frame: FrameType | None) -> tuple[str, int] | None:
    user = user_frame(frame)
    return None if user is None else (user.f_code.co_filename, user.f_lineno)


def _name_in(frame: FrameType | None, tensor: object) -> str | None:
    """The name of a local (then global) variable of the user's ``frame`` bound to ``tensor``."""
    user = user_frame(frame)
    if user is None:
        return None
    for scope in (user.f_locals, user.f_globals):
        for name, value in list(scope.items()):
            if value is tensor and not name.startswith("_"):
                return name
    return None


def _is_inplace(name: str) -> bool:
    return (name.endswith("_") and not name.endswith("__")) or name in _INPLACE_DUNDERS


def _tensors(args: Iterable[Any]) -> Iterable[torch.Tensor]:
    """Tensors among ``args``, and inside lists and tuples among them."""
    for arg in args:
        if isinstance(arg, torch.Tensor):
            yield arg
        elif isinstance(arg, (list, tuple)):
            yield from (a for a in arg if isinstance(a, torch.Tensor))


def _leaves(fns: Iterable[Any], call: str | None = None) -> dict[int, torch.Tensor]:
    """The leaf tensors (``AccumulateGrad.variable``) the autograd nodes ``fns`` lead to. With
    ``call``, each node not run by an earlier call is noted as run (and freed) by ``call``."""
    found: dict[int, torch.Tensor] = {}
    seen: set[int] = set()
    todo = [fn for fn in fns if fn is not None]
    while todo and len(seen) < _WALK_LIMIT:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if call is not None:
            fn.metadata.setdefault(_CALL_KEY, call)
        variable = getattr(fn, "variable", None)
        if isinstance(variable, torch.Tensor):
            found[id(variable)] = variable
        todo.extend(next_fn for next_fn, _ in fn.next_functions if next_fn is not None)
    return found


def _finite(tensor: torch.Tensor) -> bool:
    """Whether every value is finite: one sum (a finite sum has no NaN nor Inf), and
    ``isfinite`` only when the sum is not finite (finite values can sum to Inf)."""
    if math.isfinite(tensor.sum().item()):
        return True
    return bool(torch.isfinite(tensor).all())


def _checkable(tensor: torch.Tensor) -> bool:
    return (
        tensor.dtype.is_floating_point
        and tensor.layout is torch.strided
        and tensor.device.type != "meta"
        and tensor.numel() > 0
    )


@dataclass(slots=True)
class Cut:
    """Where tensors needing grad were cut from the graph."""

    how: str
    """``.detach()``, ``.data``, ``torch.no_grad()`` or ``torch.inference_mode()``."""
    site: tuple[str, int] | None
    params: dict[int, None] = field(default_factory=dict)
    """Ids of the leaves needing grad behind the cut tensors, in order met."""


@dataclass(frozen=True, slots=True)
class InPlace:
    op: str
    was: str | None
    """The ``grad_fn`` name of the tensor before the write (``ExpBackward0``)."""
    version: int
    """The tensor's version after the write."""
    site: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class Birth:
    """The first torch call whose output held NaN/Inf while its tensor inputs were finite."""

    op: str
    node: str | None
    site: tuple[str, int] | None
    nan: int
    inf: int
    total: int


class ForwardWatch(TorchFunctionMode):
    """See the module docstring. ``off`` lets calls pass straight on."""

    off = False

    def __init__(self) -> None:
        super().__init__()
        self.cuts: dict[tuple[str, tuple[str, int] | None], Cut] = {}
        self.cut_of: WeakIdKeyDictionary = WeakIdKeyDictionary()  # tensor -> Cut
        self.inplace: list[InPlace] = []
        self.nonleaf_reads: dict[tuple[str, int] | None, tuple[str | None, tuple[int, ...]]] = {}
        self.birth: Birth | None = None
        self._inplace_names: dict[Any, bool] = {}

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if self.off or _compiling():
            return func(*args, **kwargs) if kwargs else func(*args)
        if not _grad_enabled():  # not forward (an optimizer step, say): only cuts matter
            out = func(*args, **kwargs) if kwargs else func(*args)
            if isinstance(out, torch.Tensor) and not out.requires_grad and func != _GRAD:
                self._cut(func, args, kwargs, out)  # (reading .grad cuts nothing)
            return out
        if func == _GRAD:
            self._grad_read(args[0])
            return func(*args)
        inplace = self._inplace_names.get(func)
        if inplace is None:
            inplace = self._inplace_names[func] = _is_inplace(getattr(func, "__name__", ""))
        target = args[0] if inplace and args and isinstance(args[0], torch.Tensor) else None
        was = target.grad_fn if target is not None and target.requires_grad else None
        before = _get_sequence_nr()
        out = func(*args, **kwargs) if kwargs else func(*args)
        site: tuple[str, int] | None = None
        if _get_sequence_nr() != before:  # the call made nodes: tag them with its line
            site = _site(sys._getframe(1))
            if site is not None:
                made = [out.grad_fn] if isinstance(out, torch.Tensor) else []
                made += [t.grad_fn for t in _tensors(out if isinstance(out, tuple) else args)]
                sources.tag_site(made, site, before, _get_sequence_nr())
        if target is not None and target.requires_grad:
            if site is None:
                site = _site(sys._getframe(1))
            name = None if was is None else was.name()
            self.inplace.append(InPlace(func.__name__, name, target._version, site))
        if isinstance(out, torch.Tensor):
            if not out.requires_grad:
                self._cut(func, args, kwargs, out)
            if self.birth is None and out.is_floating_point():
                self._check(func, args, kwargs, (out,))
        elif isinstance(out, tuple) and self.birth is None:
            outs = [t for t in out if isinstance(t, torch.Tensor) and t.is_floating_point()]
            if outs:
                self._check(func, args, kwargs, outs)
        return out

    # -- cuts --------------------------------------------------------------------------------

    def _cut(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, out: torch.Tensor
    ) -> None:
        if func == _DETACH or func == _DATA:
            how = ".detach()" if func == _DETACH else ".data"
            self._direct(how, [args[0]], out)
        elif not _grad_enabled():
            cut = [t for t in _tensors(args) if t.requires_grad]
            if cut:
                inference = torch.is_inference_mode_enabled()
                self._direct("torch.inference_mode()" if inference else "torch.no_grad()", cut, out)
        elif len(self.cut_of):  # made from a cut tensor, with grad on: it comes from that cut
            for tensor in _tensors(args if not kwargs else (*args, *kwargs.values())):
                cut_at = self.cut_of.get(tensor)  # type: ignore[no-untyped-call]
                if cut_at is not None:
                    self.cut_of[out] = cut_at
                    return

    def _direct(self, how: str, tensors: list[torch.Tensor], out: torch.Tensor) -> None:
        site = _site(sys._getframe(3))
        cut = self.cuts.get((how, site))
        if cut is None:
            cut = self.cuts[how, site] = Cut(how, site)
        for tensor in tensors:
            if tensor.grad_fn is None:
                if tensor.requires_grad:
                    cut.params[id(tensor)] = None
            else:
                cut.params.update(dict.fromkeys(_leaves([tensor.grad_fn])))
        self.cut_of[out] = cut

    # -- .grad of a non-leaf -----------------------------------------------------------------

    def _grad_read(self, tensor: Any) -> None:
        if not isinstance(tensor, torch.Tensor) or tensor.is_leaf or tensor.retains_grad:
            return
        frame = sys._getframe(2)
        site = _site(frame)
        if site not in self.nonleaf_reads:
            self.nonleaf_reads[site] = (_name_in(frame, tensor), tuple(tensor.shape))

    # -- non-finite values -------------------------------------------------------------------

    def _check(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        outs: Iterable[torch.Tensor],
    ) -> None:
        _set_grad_enabled(False)  # cheaper than entering torch.no_grad() on every call
        try:
            bad = next((t for t in outs if _checkable(t) and not _finite(t)), None)
            if bad is None:
                return
            inputs = (*args, *kwargs.values()) if kwargs else args
            tensors = [t for t in _tensors(inputs) if _checkable(t)]
            if not tensors or any(not _finite(t) for t in tensors):
                return
            if any(isinstance(a, float) and not math.isfinite(a) for a in inputs):
                return
            nan = int(torch.isnan(bad).sum())
            inf = int(torch.isinf(bad).sum())
        except RuntimeError:  # a tensor we cannot read (a fake or functional one, say)
            return
        finally:
            _set_grad_enabled(True)
        node = bad.grad_fn.name() if bad.grad_fn is not None else None
        name = getattr(func, "__name__", None) or str(func)
        self.birth = Birth(name, node, _site(sys._getframe(2)), nan, inf, bad.numel())


@dataclass(slots=True)
class _CallInfo:
    name: str
    site: tuple[str, int] | None
    retain: bool
    full: list[int] = field(default_factory=list)
    """Leaves whose ``.grad`` held an earlier call's gradient when this call started."""


relay_warnings_of(ForwardWatch)


class Doctor:
    """Watch forward and backward inside a `capture` block, then say what went wrong.

    ``namespace`` names modules and tensors (a mapping or a function returning one); ``None``
    takes the locals and globals of the frame entering `start`."""

    def __init__(self, namespace: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None):
        self._namespace = namespace
        self._frame: FrameType | None = None
        self.watch = ForwardWatch()
        self._handles: list[Any] = []
        self._used: dict[int, Callable[[], torch.nn.Module | None]] = {}  # forward order
        self._reached: set[int] = set()
        self._steps = 0
        self._paused = False  # the watch is off the stack for an optimizer step
        self._written: dict[int, tuple[str, int]] = {}  # leaf id -> (call, optimizer steps)
        self._accumulated: dict[int, list[str]] = {}  # leaf id -> calls that found .grad full
        self._across_step: set[int] = set()
        self._calls: list[_CallInfo] = []
        self._grad_trouble: tuple[str, list[int]] | None = None  # call, leaves
        self._slope: tuple[str, str, float, list[tuple[int, float]]] | None = None
        self._found: list[tuple[str, Finding]] = []  # backward failures explained, by call
        self._reader = SourceReader()

    # -- block --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._namespace is None:
            self._frame = user_frame(sys._getframe(1))
        self._handles = [
            register_module_forward_pre_hook(self._pre_hook),
            register_optimizer_step_pre_hook(self._step_pre_hook),
            register_optimizer_step_post_hook(self._step_hook),
        ]
        push_mode(self.watch)

    def stop(self) -> None:
        self.watch.off = True
        if not self._paused:  # else a step that raised took it off already
            remove_mode(self.watch)
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if id(module) not in self._used:
            self._used[id(module)] = weakref.ref(module)

    def _step_pre_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        # An optimizer step is no forward pass: its torch calls (dozens per step) skip the watch.
        self._paused = remove_mode(self.watch)

    def _step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._steps += 1
        if self._paused:
            self._paused = False
            push_mode(self.watch)

    # -- backward -----------------------------------------------------------------------------

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
        info = _CallInfo(name, _site(caller), bool(retain))
        self._calls.append(info)
        roots = [t.grad_fn if t.grad_fn is not None else _accumulator(t) for t in outputs]
        # A call without retain_graph frees what it runs: note which call ran each node.
        leaves = _leaves(roots, None if info.retain else name)
        self._before(info, leaves)
        ok = False
        try:
            out = engine(tensors, grad_tensors, *args, **kwargs)
            ok = True
            return out
        except RuntimeError as exc:
            self._failed(exc, info, outputs, roots, caller)
            raise
        finally:
            self._after(info, leaves, ok)

    def _before(self, info: _CallInfo, leaves: dict[int, torch.Tensor]) -> None:
        info.full = []
        for key, leaf in leaves.items():
            self._reached.add(key)
            grad = leaf.grad
            if grad is None or key not in self._written:
                continue
            with torch.no_grad():
                if bool(grad.any()):  # an earlier call's gradient, not zeroed since
                    info.full.append(key)

    def _after(self, info: _CallInfo, leaves: dict[int, torch.Tensor], ok: bool) -> None:
        if ok:  # a failed call added nothing to .grad
            for key in info.full:
                self._accumulated.setdefault(key, [self._written[key][0]]).append(info.name)
                if self._steps > self._written[key][1]:
                    self._across_step.add(key)
        grads: dict[int, torch.Tensor] = {}
        for key, leaf in leaves.items():
            self._written[key] = (info.name, self._steps)
            grad = leaf.grad
            if grad is not None and _checkable(grad):
                grads[key] = grad
        norms: dict[int, float] = {}
        if grads:
            with torch.no_grad():
                try:  # one call for all the norms, one list of floats out
                    found = torch.stack(torch._foreach_norm(list(grads.values()))).tolist()
                except RuntimeError:  # gradients on several devices or of several dtypes
                    found = [float(torch.linalg.vector_norm(g)) for g in grads.values()]
            norms = dict(zip(grads, found, strict=True))
        bad = [key for key, norm in norms.items() if not math.isfinite(norm)]
        if bad and self._grad_trouble is None:
            self._grad_trouble = (info.name, bad)
        if self._slope is None and len(self._used) > 1:
            self._check_slope(info.name, norms)

    def _check_slope(self, call: str, norms: dict[int, float]) -> None:
        per_module: list[tuple[int, float]] = []
        for key, ref in self._used.items():
            module = ref()
            if module is None:
                continue
            own = [norms[id(p)] for p in module.parameters(recurse=False) if id(p) in norms]
            if own and all(math.isfinite(n) for n in own):
                per_module.append((key, math.sqrt(sum(n * n for n in own))))
        if len(per_module) < 2:
            return
        first, last = per_module[0][1], per_module[-1][1]
        if last > 0 and first / last > FACTOR:
            self._slope = ("exploding", call, first / last, per_module)
        elif first == 0 or last / first > FACTOR:
            if last > 0:
                self._slope = ("vanishing", call, last / max(first, 1e-300), per_module)

    # -- failures -----------------------------------------------------------------------------

    def _failed(
        self,
        exc: RuntimeError,
        info: _CallInfo,
        outputs: list[torch.Tensor],
        roots: list[Any],
        caller: FrameType,
    ) -> None:
        text = str(exc)
        here = self._source(info.site)
        if "backward through the graph a second time" in text:
            node = _saved_failure(roots, "freed")
            earlier = node.metadata.get(_CALL_KEY) if node is not None else None
            freed_by = next((c for c in self._calls if c.name == earlier), None)
            by = (
                f"call {freed_by.name} (line {freed_by.site[1]})"
                if freed_by is not None and freed_by.site is not None
                else "an earlier call"
            )
            op = f" {node.name()}'s saved tensors" if node is not None else " it"
            self._explain(
                info.name,
                Finding(
                    "backward-twice",
                    f"Backward call {info.name} ran through a graph that {by} had already "
                    f"freed:{op} were gone.",
                    "Pass retain_graph=True to the first backward call if you need the graph "
                    "again, or recompute the forward pass before each backward call.",
                    nodes=self._nodes([node]),
                    source=here,
                ),
            )
        elif "modified by an inplace operation" in text:
            match = _VERSION_ERROR.search(text)
            node = _saved_failure(roots, "inplace")
            write = self._write_for(match)
            versions = f" (version {match[3]}, expected {match[4]})" if match is not None else ""
            saver = f"{node.name()} saved a tensor" if node is not None else "A tensor was saved"
            where = (
                f" by {write.op} at line {write.site[1]}"
                if write is not None and write.site is not None
                else ""
            )
            refs = self._nodes([node])
            if write is not None:
                refs += (NodeRef(None, write.op, None, self._source(write.site)),)
            self._explain(
                info.name,
                Finding(
                    "inplace-modified",
                    f"{saver} for backward that was then modified in place{where}{versions}.",
                    "Use the out-of-place op (x = x + 1, not x += 1 / x.add_(1)), or clone() the "
                    "tensor before modifying it.",
                    nodes=refs,
                    source=here,
                ),
            )
        elif "does not require grad and does not have a grad_fn" in text:
            tensor = next((t for t in outputs if t.grad_fn is None and not t.requires_grad), None)
            self._explain(info.name, self._no_graph(tensor, info, caller, here))
        elif "grad can be implicitly created only for scalar outputs" in text:
            tensor = next((t for t in outputs if t.numel() != 1), outputs[0])
            name = _name_in(caller, tensor) or "the tensor"
            shape = tuple(tensor.shape)
            self._explain(
                info.name,
                Finding(
                    "non-scalar-backward",
                    f"backward() on {name} of shape {shape}, not a scalar, without gradient=.",
                    f"Reduce it first ({name}.sum().backward() or .mean()), or pass "
                    f"gradient= with its shape: {name}.backward(torch.ones_like({name})).",
                    source=here,
                ),
            )

    def _explain(self, call: str, finding: Finding) -> None:
        self._found.append((call, finding))

    def _no_graph(
        self, tensor: torch.Tensor | None, info: _CallInfo, caller: FrameType, here: Source | None
    ) -> Finding:
        name = (_name_in(caller, tensor) if tensor is not None else None) or "the tensor"
        cut = self.watch.cut_of.get(tensor) if tensor is not None else None  # type: ignore[no-untyped-call]
        if cut is not None:
            why = f"it comes from {cut.how}" + (
                f" at line {cut.site[1]}" if cut.site is not None else ""
            )
            hint = (
                f"Compute it with grad on: move the forward out of {cut.how}."
                if "grad" in cut.how or "inference" in cut.how
                else f"Do not cut the graph with {cut.how} on the way to the loss."
            )
            cut_source = self._source(cut.site)
        elif tensor is not None and tensor.is_inference():
            why, hint, cut_source = (
                "it was made under torch.inference_mode()",
                "Compute the loss outside torch.inference_mode().",
                None,
            )
        else:
            why = "none of the tensors it was computed from requires grad"
            hint = "Create the parameters with requires_grad=True (or as nn.Parameter in a module)."
            cut_source = None
        nodes = (NodeRef(None, "cut", None, cut_source),) if cut_source is not None else ()
        return Finding(
            "no-graph",
            f"backward() on {name}, which has no graph: {why}.",
            hint,
            nodes=nodes,
            source=here,
        )

    def _write_for(self, match: re.Match[str] | None) -> InPlace | None:
        writes = self.watch.inplace
        if match is None:
            return writes[-1] if writes else None
        op, version = match[2], int(match[3])
        same = [w for w in writes if w.was is not None and re.sub(r"Backward\d*$", "", w.was) == op]
        exact = [w for w in same if w.version == version]
        found = exact or same or writes
        return found[-1] if found else None

    # -- findings -----------------------------------------------------------------------------

    def _source(self, site: tuple[str, int] | None) -> Source | None:
        return None if site is None else self._reader.source_at(*site)

    def _nodes(self, fns: Iterable[Any]) -> tuple[NodeRef, ...]:
        return tuple(NodeRef(None, fn.name(), None, self._reader(fn)) for fn in fns if fn)

    def _names(self) -> dict[int, str]:
        """Parameter and tensor names by id: modules the script used, then other tensors."""
        namespace: Mapping[str, Any]
        if self._namespace is None:
            frame = self._frame
            namespace = {} if frame is None else {**frame.f_globals, **frame.f_locals}
        elif callable(self._namespace):
            namespace = self._namespace()
        else:
            namespace = self._namespace
        names: dict[int, str] = {}
        paths = module_paths(namespace)
        for key, ref in self._used.items():
            module = ref()
            if module is None:
                continue
            path = paths.get(key, type(module).__name__)
            for pname, param in module.named_parameters(recurse=False):
                names.setdefault(id(param), f"{path}.{pname}")
        for name, tensor in names_in(namespace).items():
            names.setdefault(id(tensor), name)
        return names

    def findings(self, graphs: Mapping[str, Graph]) -> list[Finding]:
        """Every finding, errors first. ``graphs``: the recorded graph of each call, by name."""
        names = self._names()

        def named(keys: Iterable[int]) -> tuple[str, ...]:
            return tuple(names.get(k, f"<tensor {k:#x}>") for k in keys)

        found = [_with_ids(finding, graphs.get(call)) for call, finding in self._found]
        birth = self.watch.birth
        if birth is not None:
            what = ", ".join(f"{n} {w}" for n, w in ((birth.nan, "NaN"), (birth.inf, "Inf")) if n)
            node = (NodeRef(None, birth.node or birth.op, None, self._source(birth.site)),)
            found.append(
                Finding(
                    "nonfinite-forward",
                    f"{birth.op} made {what} of {birth.total} values from finite inputs: "
                    "the first non-finite value of the forward pass.",
                    "Keep the op's inputs in its domain (clamp before log/sqrt, add an epsilon "
                    "to denominators) or mask them before the op, not after.",
                    nodes=node if birth.node else (),
                    source=self._source(birth.site),
                )
            )
        elif self._grad_trouble is not None:
            found.append(self._nonfinite_grad(graphs, named))
        params = self._params()
        if self._calls:
            found += self._unused_and_detached(params, names, named)
        found += self._frozen(params, names)
        found += self._accumulation(named)
        for site, (name, shape) in self.watch.nonleaf_reads.items():
            what = name or "a tensor"
            found.append(
                Finding(
                    "non-leaf-grad",
                    f"The script reads .grad of {what} (shape {shape}), which is not a leaf: "
                    "it stays None.",
                    f"Call {what}.retain_grad() before backward to keep its gradient, or read "
                    "the .grad of the leaf (parameter) instead.",
                    source=self._source(site),
                )
            )
        if self._slope is not None:
            found.append(self._slope_finding(names))
        order = {"error": 0, "warning": 1, "info": 2}
        return sorted(found, key=lambda f: order[f.severity])

    def _params(self) -> dict[int, torch.Tensor]:
        """Parameters of the modules the script used, in forward order of their modules."""
        params: dict[int, torch.Tensor] = {}
        for ref in self._used.values():
            module = ref()
            if module is not None:
                for param in module.parameters():
                    params.setdefault(id(param), param)
        return params

    def _unused_and_detached(
        self,
        params: dict[int, torch.Tensor],
        names: dict[int, str],
        named: Callable[[Iterable[int]], tuple[str, ...]],
    ) -> list[Finding]:
        out: list[Finding] = []
        explained: set[int] = set()
        for cut in self.watch.cuts.values():
            if cut.site is not None and cut.site[0].startswith(_STDLIB):
                continue  # copy.deepcopy reads .data: no forward pass cut anything there
            # Parameters of the modules that ran, and tensors the script named: not, say, the
            # template layer nn.TransformerEncoder deep-copies and never runs.
            keys = [
                k
                for k in cut.params
                if k not in self._reached and k not in explained and (k in params or k in names)
            ]
            if not keys:
                continue
            explained.update(keys)
            where = f" at line {cut.site[1]}" if cut.site is not None else ""
            out.append(
                Finding(
                    "detached",
                    f"{_list(named(keys))} reach the loss only through {cut.how}{where}: "
                    "no backward call reached them.",
                    f"Remove the {cut.how} if these parameters should learn; if they should not, "
                    "set requires_grad_(False) on them to say so.",
                    params=named(keys),
                    source=self._source(cut.site),
                )
            )
        unused = [
            k
            for k, p in params.items()
            if p.requires_grad and k not in self._reached and k not in explained
        ]
        if unused:
            first = self._calls[0]
            out.append(
                Finding(
                    "unused-param",
                    f"{_list(named(unused))} require grad but no backward call reached them.",
                    "Use them in forward, or delete them (or set requires_grad_(False)); "
                    "with DistributedDataParallel, unused parameters need "
                    "find_unused_parameters=True.",
                    params=named(unused),
                    source=self._source(first.site),
                )
            )
        return out

    def _frozen(self, params: dict[int, torch.Tensor], names: dict[int, str]) -> list[Finding]:
        groups: dict[str, list[str]] = {}
        for key, param in params.items():
            if not param.requires_grad:
                module, _, leaf = names.get(key, f"<tensor {key:#x}>").rpartition(".")
                groups.setdefault(module, []).append(leaf)
        return [
            Finding(
                "frozen-param",
                f"{module}: {len(leaves)} frozen parameter(s) ({', '.join(leaves)}), "
                "requires_grad=False.",
                "Intended when fine-tuning part of a model; otherwise set requires_grad_(True).",
                params=tuple(f"{module}.{leaf}" for leaf in leaves),
            )
            for module, leaves in groups.items()
        ]

    def _accumulation(self, named: Callable[[Iterable[int]], tuple[str, ...]]) -> list[Finding]:
        # Across an optimizer step it is a bug; with no optimizer at all, the tutorials' g, 2g,
        # 3g. Between steps (micro-batches, two losses per step) it is how accumulation works.
        keys = [k for k in self._accumulated if k in self._across_step or self._steps == 0]
        if not keys:
            return []
        calls = self._accumulated[keys[0]]
        site = next((c.site for c in self._calls if c.name == calls[-1]), None)
        span = f"calls {calls[0]}-{calls[-1]}" if len(calls) > 2 else f"calls {' and '.join(calls)}"
        return [
            Finding(
                "grad-accumulation",
                f"The .grad of {_list(named(keys))} summed the gradients of {span}: nothing "
                "zeroed it in between.",
                "Call optimizer.zero_grad() (or set .grad = None) before each backward; if you "
                "accumulate over micro-batches on purpose, zero after each optimizer step.",
                params=named(keys),
                source=self._source(site),
            )
        ]

    def _nonfinite_grad(
        self, graphs: Mapping[str, Graph], named: Callable[[Iterable[int]], tuple[str, ...]]
    ) -> Finding:
        assert self._grad_trouble is not None
        call, leaves = self._grad_trouble
        graph = graphs.get(call)
        nodes: tuple[NodeRef, ...] = ()
        detail = ""
        if graph is not None and graph.first_nonfinite is not None:
            node = graph.node(graph.first_nonfinite)
            makers = [
                graph.node(e.dst) if e.src == node.id else graph.node(e.src)
                for e in graph.outputs(node.id) + graph.inputs(node.id)
            ]
            makers = [
                m
                for m in makers
                if m.order is not None and node.order is not None and m.order < node.order
            ]
            nodes = tuple(NodeRef(m.id, m.op or "leaf", m.name, m.source) for m in makers[:1])
            nodes += (NodeRef(node.id, node.op or "leaf", node.name, node.source),)
            if makers:
                maker = makers[0]
                at = f" (line {maker.source.line})" if maker.source is not None else ""
                detail = f": {maker.op}{at} passed a non-finite gradient to {node.op}"
            else:
                detail = f": first at {node.op}"
        source = nodes[0].source if nodes else None
        return Finding(
            "nonfinite-grad",
            f"Backward call {call} made non-finite gradients{detail}; the forward pass was "
            f"finite. Affected: {_list(named(leaves))}.",
            "A function with an infinite slope at its input (sqrt or norm at 0, log at 0, "
            "pow with a fractional exponent at 0): add an epsilon, or clamp the input.",
            params=named(leaves),
            nodes=nodes,
            source=source,
        )

    def _slope_finding(self, names: dict[int, str]) -> Finding:
        assert self._slope is not None
        code, call, ratio, per_module = self._slope
        paths = {}
        for key, _ in per_module:
            module = self._used[key]()
            param = next(iter(module.parameters(recurse=False))) if module is not None else None
            paths[key] = (
                (names.get(id(param), "?").rpartition(".")[0]) if param is not None else "?"
            )
        (k0, n0), (k1, n1) = per_module[0], per_module[-1]
        return Finding(
            code,
            f"In backward call {call} the gradient norm of {paths[k0]} (first module) is "
            f"{n0:.3g} and that of {paths[k1]} (last module) {n1:.3g}: a factor of "
            f"{ratio:.3g} (more than {FACTOR:g}).",
            _SLOPE_HINTS[code],
            params=tuple(name for key in (k0, k1) for name in [paths[key]] if name != "?"),
        )


_SLOPE_HINTS: Final = {
    "vanishing": "Use ReLU-like activations, normalisation layers, residual connections or an "
    "initialisation suited to the activation.",
    "exploding": "Lower the initial weights or the activation's slope, normalise between "
    "layers, or clip gradients (torch.nn.utils.clip_grad_norm_).",
}


def _with_ids(finding: Finding, graph: Graph | None) -> Finding:
    """``finding`` with the id of each of its nodes found in ``graph`` (the recorded graph of
    the call it is about): the node with the same op made at the same line."""
    if graph is None or not finding.nodes:
        return finding
    ids = {(n.op, n.source.file, n.source.line): n.id for n in graph.nodes if n.source}
    nodes = tuple(
        replace(ref, id=ids.get((ref.op, ref.source.file, ref.source.line)))
        if ref.id is None and ref.source is not None
        else ref
        for ref in finding.nodes
    )
    return replace(finding, nodes=nodes)


def _list(names: tuple[str, ...], most: int = 6) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most} more"


def _accumulator(tensor: torch.Tensor) -> Any:
    """A leaf's ``AccumulateGrad`` node (None when it needs no grad)."""
    if not tensor.requires_grad:
        return None
    view = tensor.view_as(tensor).grad_fn
    return None if view is None else view.next_functions[0][0]


def _saved_failure(roots: list[Any], kind: str) -> Any:
    """The first node (from the roots) whose saved tensors cannot be read: ``"freed"`` by an
    earlier backward, or modified ``"inplace"`` since."""
    want = "freed" if kind == "freed" else "inplace operation"
    todo = [r for r in roots if r is not None]
    seen: set[int] = set()
    while todo and len(seen) < _WALK_LIMIT:
        fn = todo.pop(0)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for attr in dir(fn):
            if attr.startswith("_saved_"):
                try:
                    getattr(fn, attr)
                except RuntimeError as exc:
                    if want in str(exc):
                        return fn
        todo.extend(n for n, _ in fn.next_functions if n is not None)
    return None
