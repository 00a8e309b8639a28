"""One capture block under the doctor: `Doctor` starts and stops both watches, names what they
saw, and hands the observations to the rules. Torch is imported here."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from inspect import currentframe
from types import FrameType
from typing import Any

import torch
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

from ..model import Graph, Source
from ..trace.aside import ForwardHooks
from ..trace.distributed import ddp_indices
from ..trace.frames import user_frame
from ..trace.modes import push_mode, remove_mode
from ..trace.module_names import module_paths
from ..trace.naming import names_in
from ..trace.sources import SourceReader
from .backward import BackwardWatch
from .findings import Finding
from .loop import LoopWatch
from .observations import Observations
from .probes import source
from .rules import diagnose
from .watch import ForwardWatch

__all__ = ["Doctor"]


def _normalises(module: torch.nn.Module | None) -> bool:
    """Whether ``module`` is a normalisation layer (torch's, or a model's own ``RMSNorm``)."""
    return module is not None and type(module).__name__.endswith(
        ("Norm", "Norm1d", "Norm2d", "Norm3d")
    )


class Doctor:
    """Watch forward and backward inside a `capture` block, then say what went wrong.

    ``namespace`` names modules and tensors (a mapping or a function returning one); ``None``
    takes the locals and globals of the frame entering `start`."""

    def __init__(self, namespace: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None):
        self._namespace = namespace
        self._frame: FrameType | None = None
        reader = self._reader = SourceReader()
        self._used: dict[int, Callable[[], torch.nn.Module | None]] = {}  # forward order
        self.watch = ForwardWatch(reader)
        self.loop = LoopWatch(reader)
        self.backward = BackwardWatch(self.watch, self.loop, self._used, reader)
        self._handles: list[Any] = []
        self._paused = False  # the watch is off the stack for an optimizer step
        self._first: tuple[dict[int, str], dict[int, bool]] | None = None

    # -- block --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._namespace is None:
            self._frame = user_frame(currentframe())
        self._handles = [
            ForwardHooks(self._pre_hook).install(),
            register_optimizer_step_pre_hook(self._step_pre_hook),
            register_optimizer_step_post_hook(self._step_hook),
        ]
        self.loop.install()
        push_mode(self.watch)

    def stop(self) -> None:
        self.watch.off = True
        if not self._paused:  # else a step that raised took it off already
            remove_mode(self.watch)
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.loop.remove()

    def _pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if id(module) not in self._used:
            self._used[id(module)] = weakref.ref(module)

    def _step_pre_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        # An optimizer step is no forward pass: its torch calls (dozens per step) skip the watch.
        self._paused = remove_mode(self.watch)
        self.loop.step(optimizer)

    def _step_hook(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._paused:
            self._paused = False
            push_mode(self.watch)

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
        watching it. At the first call the names and parameters are read once (no tensor
        kept): a script that lets go of its model by the end (``del model`` before
        ``destroy_process_group``) keeps them."""
        if self._first is None:
            self._first = (self._names(), self._requires_grad())
        return self.backward.run(engine, name, caller, tensors, grad_tensors, *args, **kwargs)

    # -- findings -----------------------------------------------------------------------------

    def findings(self, graphs: Mapping[str, Graph]) -> list[Finding]:
        """Every finding, errors first. ``graphs``: the recorded graph of each call, by name."""
        return diagnose(self.observations(), graphs)

    def observations(self) -> Observations:
        """What both watches saw, with names for the tensors and modules involved (as the
        namespace holds them at the end; as it held them at the first backward call, for
        those gone since)."""
        first_names, first_params = self._first or ({}, {})
        names = {**first_names, **self._names()}
        back, loop = self.backward, self.loop
        slope = back.slope
        params = {**first_params, **self._requires_grad()}
        held = frozenset(loop.held)
        return Observations(
            calls=tuple(back.calls),
            failures=tuple(back.failures),
            births=tuple(self.watch.births[i] for i in sorted(back.births)),
            nonfinite_grad=back.nonfinite_grad,
            cuts=self.watch.cuts,
            params=params,
            names=names,
            reached=frozenset(back.reached),
            accumulated=dict(loop.summed),
            steps=loop.steps,
            held=held,
            idle={
                k: (loop.idle[k], n)
                for k, n in loop.held.items()
                if k in loop.idle and k in back.reached
            },
            stale=dict(loop.stale),
            stale_step=source(self._reader, loop.stale_step),
            emptied=tuple(loop.emptied),
            scaler=loop.scaler(),
            assigned=self._assigned(
                [k for k in back.reached if k in params and k not in held] if held else []
            ),
            normalised=any(_normalises(ref()) for ref in self._used.values()),
            nonleaf_reads=self.watch.nonleaf_reads,
            slope=slope,
            module_paths={}
            if slope is None
            else {m.module: self._path(m.module, names) for m in (slope.first, slope.last)},
            ddp_index=ddp_indices(ref() for ref in self._used.values()),
        )

    def _assigned(self, keys: list[int]) -> dict[int, Source]:
        """The line that assigned the module of each parameter of ``keys`` (by key), for the
        modules that ran whose assignment the loop watch saw."""
        wanted = set(keys)
        out: dict[int, Source] = {}
        for ref in self._used.values() if wanted else ():
            module = ref()
            line = None if module is None else self.loop.assigned.get(module)  # type: ignore[no-untyped-call]
            if module is None or line is None:
                continue
            found = self._reader.source_at(*line)
            for param in module.parameters(recurse=False):
                if id(param) in wanted:
                    out[id(param)] = found
        return out

    def _names(self) -> dict[int, str]:
        """Parameter and tensor names by key: modules the script used, then other tensors."""
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

    def _requires_grad(self) -> dict[int, bool]:
        """Whether each parameter of the modules the script used requires grad, by key, in
        forward order of their modules."""
        params: dict[int, bool] = {}
        for ref in self._used.values():
            module = ref()
            if module is not None:
                for param in module.parameters():
                    params.setdefault(id(param), param.requires_grad)
        return params

    def _path(self, key: int, names: Mapping[int, str]) -> str:
        """A module's path, from the name of its first own parameter; ``"?"`` once it is gone."""
        module = self._used[key]()
        if module is None:
            return "?"
        param = next(iter(module.parameters(recurse=False)))
        return names.get(id(param), "?").rpartition(".")[0]
