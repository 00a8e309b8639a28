"""The doctor's forward watch: what it sees of each torch call. Torch is imported here.

`ForwardWatch` is a `TorchFunctionMode` on the thread's mode stack for the whole block. For
each torch call it
- tags the nodes the call made with its line (as `sources.SourceTagger` does);
- notes where a tensor that needs grad was cut (``.detach()``, ``.data``, ``torch.no_grad()``,
  ``inference_mode``), with the parameters behind it, and which later tensors come from a cut;
- notes in-place writes to tensors that need grad (op, line, version after);
- notes reads of a non-leaf's ``.grad``;
- checks each floating-point output that needs grad for NaN/Inf (one sum, then ``isfinite``
  only when the sum is not finite) and, when all tensor inputs are finite, notes the call as
  the birth of a non-finite value (the first at each line, up to `MAX_BIRTHS`), and marks the
  output's node with the birth (`BIRTH_KEY`): the backward watch keeps the births that reach a
  non-finite loss. A value that needs no grad (T5's ``log(0)`` of relative positions, an
  attention mask of ``-inf``) or that is masked out before the loss is no finding.

Its records are those of `observations`. (The warnings relay of `trace.modules` knows this
module by name: a warning raised under the watch names the caller's line.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from inspect import currentframe
from typing import Any, Final

import torch
from torch._C._autograd import _get_sequence_nr
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from ..trace import sources
from ..trace.distributed import in_torch_distributed
from ..trace.relay import relay_warnings_of
from ..trace.sources import SourceReader
from .observations import Birth, Cut, CutAt, InPlace, NonleafRead, Site
from .probes import checkable, finite, leaves, name_in, site, source, tensors

__all__ = ["BIRTH_KEY", "MAX_BIRTHS", "ForwardWatch"]

BIRTH_KEY: Final = "gradviz.birth"  # node.metadata: the index of the birth that made its output
MAX_BIRTHS: Final = 8
"""Lines noted as births of non-finite values, at most; the watch stops checking after."""

_DETACH: Final = torch.Tensor.detach
_DATA: Final = torch.Tensor.data.__get__  # type: ignore[attr-defined,unused-ignore]
_GRAD: Final = torch.Tensor.grad.__get__  # type: ignore[union-attr]
_INPLACE_DUNDERS: Final = frozenset(
    "__setitem__ __iadd__ __isub__ __imul__ __itruediv__ __ifloordiv__ __imod__ __ipow__ "
    "__imatmul__ __iand__ __ior__ __ixor__ __ilshift__ __irshift__".split()
)
_compiling = torch.compiler.is_compiling
_grad_enabled = torch.is_grad_enabled
_set_grad_enabled = torch._C._set_grad_enabled


def _is_inplace(name: str) -> bool:
    return (name.endswith("_") and not name.endswith("__")) or name in _INPLACE_DUNDERS


@dataclass(slots=True)
class _OpenCut:
    """A cut while the watch runs: the leaves behind it keep coming."""

    at: CutAt
    leaves: dict[int, None] = field(default_factory=dict)
    """Keys of the leaves needing grad behind the cut tensors, in order met."""


class ForwardWatch(TorchFunctionMode):
    """See the module docstring. ``off`` lets calls pass straight on. ``reader`` reads the
    lines of what it notes."""

    off = False

    def __init__(self, reader: SourceReader) -> None:
        super().__init__()
        self._reader = reader
        self._cuts: dict[tuple[str, Site | None], _OpenCut] = {}
        self.cut_of: WeakIdKeyDictionary = WeakIdKeyDictionary()  # tensor -> CutAt
        self.inplace: list[InPlace] = []
        self._nonleaf_reads: dict[Site | None, NonleafRead] = {}
        self.births: list[Birth] = []
        self._birth_sites: set[Site | None] = set()
        self._checking = True
        self._inplace_names: dict[Any, bool] = {}

    @property
    def cuts(self) -> tuple[Cut, ...]:
        """Each cut with the leaves behind it, in the order first met."""
        return tuple(Cut(cut.at, tuple(cut.leaves)) for cut in self._cuts.values())

    @property
    def nonleaf_reads(self) -> tuple[NonleafRead, ...]:
        """The first read of a non-leaf's ``.grad`` at each line."""
        return tuple(self._nonleaf_reads.values())

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
        line: Site | None = None
        if _get_sequence_nr() != before:  # the call made nodes: tag them with its line
            line = site(currentframe())
            if line is not None:
                made = [out.grad_fn] if isinstance(out, torch.Tensor) else []
                made += [t.grad_fn for t in tensors(out if isinstance(out, tuple) else args)]
                sources.tag_site(made, line, before, _get_sequence_nr())
        if target is not None and target.requires_grad:
            if line is None:
                line = site(currentframe())
            name = None if was is None else was.name()
            self.inplace.append(InPlace(func.__name__, name, target._version, line))
        if isinstance(out, torch.Tensor):
            if not out.requires_grad:
                self._cut(func, args, kwargs, out)
            elif self._checking and out.is_floating_point():
                self._check(func, args, kwargs, (out,))
        elif isinstance(out, tuple) and self._checking:
            outs = [
                t
                for t in out
                if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()
            ]
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
        elif not _grad_enabled() and (cut := [t for t in tensors(args) if t.requires_grad]):
            inference = torch.is_inference_mode_enabled()
            self._direct("torch.inference_mode()" if inference else "torch.no_grad()", cut, out)
        elif len(self.cut_of):  # made from a cut tensor (with grad on or off): from that cut
            for tensor in tensors(args if not kwargs else (*args, *kwargs.values())):
                cut_at = self.cut_of.get(tensor)  # type: ignore[no-untyped-call]
                if cut_at is not None:
                    self.cut_of[out] = cut_at
                    return

    def _direct(self, how: str, cut: list[torch.Tensor], out: torch.Tensor) -> None:
        if in_torch_distributed(currentframe()):  # DDP's broadcast, FSDP2's gathers: no cut
            return
        line = site(currentframe())
        found = self._cuts.get((how, line))
        if found is None:
            found = self._cuts[how, line] = _OpenCut(CutAt(how, source(self._reader, line)))
        for tensor in cut:
            if tensor.grad_fn is None:
                if tensor.requires_grad:
                    found.leaves[id(tensor)] = None
            else:
                found.leaves.update(dict.fromkeys(leaves([tensor.grad_fn])))
        self.cut_of[out] = found.at

    # -- .grad of a non-leaf -----------------------------------------------------------------

    def _grad_read(self, tensor: Any) -> None:
        if not isinstance(tensor, torch.Tensor) or tensor.is_leaf or tensor.retains_grad:
            return
        frame = currentframe()
        line = site(frame)
        if line not in self._nonleaf_reads:
            self._nonleaf_reads[line] = NonleafRead(
                name_in(frame, tensor), tuple(tensor.shape), source(self._reader, line)
            )

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
            bad = next((t for t in outs if checkable(t) and not finite(t)), None)
            if bad is None:
                return
            inputs = (*args, *kwargs.values()) if kwargs else args
            checked = [t for t in tensors(inputs) if checkable(t)]
            if not checked or any(not finite(t) for t in checked):
                return
            if any(isinstance(a, float) and not math.isfinite(a) for a in inputs):
                return
            nan = int(torch.isnan(bad).sum())
            inf = int(torch.isinf(bad).sum())
        except RuntimeError:  # a tensor we cannot read (a fake or functional one, say)
            return
        finally:
            _set_grad_enabled(True)
        line = site(currentframe())
        if line in self._birth_sites:
            return  # the same line again (a loop): its first birth stands for it
        self._birth_sites.add(line)
        self._checking = len(self._birth_sites) < MAX_BIRTHS
        node = None
        maker: Any = bad.grad_fn
        if maker is not None:
            node = maker.name()
            maker.metadata[BIRTH_KEY] = len(self.births)
        name = getattr(func, "__name__", None) or str(func)
        self.births.append(Birth(name, node, nan, inf, bad.numel(), source(self._reader, line)))


relay_warnings_of(ForwardWatch)
