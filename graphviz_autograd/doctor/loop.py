"""The doctor's view of the training loop. Torch is imported here.

`LoopWatch` follows what a training loop does with gradients between ``backward`` calls:

- which parameters each stepping optimizer holds (its ``param_groups`` at each step);
- when ``.grad`` is zeroed: ``optimizer.zero_grad()`` and ``module.zero_grad()`` are noted
  with their line; ``p.grad = None`` is seen by its effect;
- which backward calls each parameter's ``.grad`` sums since it was last zeroed (an *episode*),
  and which optimizer steps consume them. An episode that a step consumes, then grows by a
  later call before the next step consumes it again, sums gradients across a step: the bug.
  Gradients no step consumes before they are zeroed (what ``errG.backward()`` leaves in the
  discriminator of a GAN) are harmless; micro-batches summed and then stepped once are the
  intended use;
- steps that found every gradient written since the last step zeroed (``zero_grad`` between
  ``backward`` and ``step``);
- the scale of each ``GradScaler.update`` and whether the step before it was skipped, and the
  scale each ``GradScaler.scale(loss)`` multiplied the next call's gradients by;
- where each module was assigned as an attribute of another (``model.fc = nn.Linear(...)``).

Its records are those of `observations`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from inspect import currentframe
from typing import Any

import torch
from torch.utils.weak import WeakIdKeyDictionary

from ..trace.distributed import local
from ..trace.sources import SourceReader
from .observations import EmptiedStep, ScalerPath, Site
from .probes import site, source

__all__ = ["LoopWatch"]


@dataclass(slots=True)
class _Episode:
    """What one parameter's ``.grad`` sums since it was last zeroed."""

    calls: list[str]
    """The backward calls summed, in order."""
    consumed: int = 0
    """How many of `calls` an optimizer step holding the parameter has used."""
    grad: tuple[int, int] | None = None
    """``id`` and version of the ``.grad`` tensor after the last call: unchanged means not
    zeroed, without reading its values."""


@dataclass(slots=True)
class _Zero:
    """The last ``zero_grad`` call seen."""

    site: Site | None
    after: int
    """How many backward calls had finished by then."""


@dataclass(slots=True)
class LoopWatch:
    """See the module docstring. `install` patches ``zero_grad``, ``GradScaler.update`` and
    ``GradScaler.scale`` and
    registers a module registration hook; `remove` undoes all of it."""

    reader: SourceReader
    steps: int = 0
    summed: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Leaves whose ``.grad`` summed several calls' gradients without being zeroed in
    between, by key: those calls (the latest such sum)."""
    held: dict[int, int] = field(default_factory=dict)
    """The parameters some stepping optimizer held, by key, in the order met: how many steps
    held them."""
    idle: dict[int, int] = field(default_factory=dict)
    """Of those, the ones some step found with no gradient from a backward call since the step
    before: at how many steps."""
    stale: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """Parameters whose ``.grad`` a step consumed again after a later call added to it: the
    calls summed by the last such step."""
    stale_step: Site | None = None
    """The line of the first step that consumed such a sum."""
    emptied: list[EmptiedStep] = field(default_factory=list)
    """Steps that found every gradient written since the last step zeroed."""
    scales: list[tuple[float, float, bool]] = field(default_factory=list)
    """Each ``GradScaler.update``: scale before, scale after, whether a step was skipped."""
    loss_scale: float | None = None
    """The scale of the last ``GradScaler.scale(loss)``, until a backward call takes it
    (`taken_scale`): the gradients of that call are that many times their true size."""
    assigned: WeakIdKeyDictionary = field(default_factory=WeakIdKeyDictionary)
    """Module -> the `Site` of the line that assigned it to another module."""
    _episodes: dict[int, _Episode] = field(default_factory=dict)
    _zero: _Zero | None = None
    _backwards: int = 0
    _last_call: tuple[str, Site | None] | None = None
    _undo: list[Callable[[], None]] = field(default_factory=list)

    # -- install ------------------------------------------------------------------------------

    def install(self) -> None:
        for owner in (torch.optim.Optimizer, torch.nn.Module):
            self._patch(owner, "zero_grad", self._zeroing)
        self._patch(torch.amp.GradScaler, "update", self._scaling)
        self._patch(torch.amp.GradScaler, "scale", self._scaled)
        handle = torch.nn.modules.module.register_module_module_registration_hook(self._assigned)
        self._undo.append(handle.remove)

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, functools.wraps(original)(wrap(original)))
        self._undo.append(lambda: setattr(owner, name, original))

    def _zeroing(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def zero_grad(this: Any, *args: Any, **kwargs: Any) -> Any:
            self._zero = _Zero(site(currentframe()), self._backwards)
            return original(this, *args, **kwargs)

        return zero_grad

    def _scaling(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def update(scaler: Any, *args: Any, **kwargs: Any) -> Any:
            if not scaler.is_enabled() or scaler._scale is None or args or kwargs:
                return original(scaler, *args, **kwargs)  # a scale set by hand: not a step's
            states = scaler._per_optimizer_states.values()
            skipped = any(float(f) for s in states for f in s["found_inf_per_device"].values())
            before = scaler.get_scale()
            out = original(scaler, *args, **kwargs)
            self.scales.append((before, scaler.get_scale(), skipped))
            return out

        return update

    def _scaled(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def scale(scaler: Any, outputs: Any) -> Any:
            out = original(scaler, outputs)
            if scaler.is_enabled():
                self.loss_scale = scaler.get_scale()
            return out

        return scale

    def taken_scale(self) -> float:
        """The loss scale of the backward call about to be read (1 without a ``GradScaler``);
        the next call starts without one."""
        scale, self.loss_scale = self.loss_scale or 1.0, None
        return scale

    def _assigned(self, module: Any, name: str, submodule: Any) -> None:
        if submodule is not None:
            self.assigned[submodule] = site(currentframe())

    # -- events -------------------------------------------------------------------------------

    def wrote(self, key: int) -> bool:
        """Whether a backward call recorded here wrote the ``.grad`` of leaf ``key``."""
        return key in self._episodes

    def backward(
        self, call: str, line: Site | None, reached: dict[int, torch.Tensor], full: list[int]
    ) -> None:
        """Backward call ``call`` (at ``line``) ran, adding to the ``.grad`` of the ``reached``
        leaves; ``full``: those whose ``.grad`` held an earlier call's gradient, not zeroed."""
        self._backwards += 1
        self._last_call = (call, line)
        summing = set(full)
        for key, leaf in reached.items():
            episode = self._episodes.get(key)
            if episode is None or key not in summing:
                episode = self._episodes[key] = _Episode([])
            episode.calls.append(call)
            if len(episode.calls) > 1:
                self.summed[key] = tuple(episode.calls)
            grad = leaf.grad
            episode.grad = None if grad is None else (id(grad), grad._version)

    def step(self, optimizer: Any) -> None:
        """``optimizer`` is about to step."""
        self.steps += 1
        fresh, emptied = 0, 0
        for group in optimizer.param_groups:
            for param in group["params"]:
                key = id(param)
                self.held[key] = self.held.get(key, 0) + 1
                episode = self._episodes.get(key)
                if episode is None or len(episode.calls) == episode.consumed:
                    self.idle[key] = self.idle.get(key, 0) + 1
                    continue  # nothing new since the last step that held it
                if _zeroed(param, episode):
                    emptied += 1
                    del self._episodes[key]
                    continue
                fresh += 1
                if episode.consumed:  # used before, and grown since: the sum so far
                    if not self.stale:
                        self.stale_step = site(currentframe())
                    self.stale[key] = tuple(episode.calls)
                episode.consumed = len(episode.calls)
        if emptied and not fresh:
            self._emptied(emptied)

    def _emptied(self, count: int) -> None:
        call, line = self._last_call or ("?", None)
        zero = self._zero
        zero_line = zero.site if zero is not None and zero.after == self._backwards else None
        self.emptied.append(
            EmptiedStep(
                step=self.steps,
                params=count,
                call=call,
                call_source=source(self.reader, line),
                zero_source=source(self.reader, zero_line),
                step_source=source(self.reader, site(currentframe())),
            )
        )

    def scaler(self) -> ScalerPath | None:
        """What the ``GradScaler`` updates did, when there were any."""
        if not self.scales:
            return None
        trailing = 0
        for _, _, skipped in reversed(self.scales):
            if not skipped:
                break
            trailing += 1
        return ScalerPath(
            updates=len(self.scales),
            skipped=sum(skipped for _, _, skipped in self.scales),
            first=self.scales[0][0],
            last=self.scales[-1][1],
            trailing=trailing,
        )


def _zeroed(param: torch.Tensor, episode: _Episode) -> bool:
    """Whether ``param.grad`` was zeroed (or set to None) since the last backward call."""
    grad = param.grad
    if grad is None:
        return True
    if episode.grad == (id(grad), grad._version):
        return False  # the very tensor the call left, unchanged
    with torch.no_grad():
        return not bool(local(grad).any())
