"""The doctor's rules about the training loop: optimizer steps, zeroing, the gradient scaler.

Pure functions, no torch, as `rules` (which runs them): `Observations` in, `Finding`\\ s out.
"""

from __future__ import annotations

from typing import Final

from ..text import listed, one_or_many
from .findings import Finding
from .observations import Observations, named

__all__ = [
    "STALLED",
    "grad_accumulation",
    "idle_params",
    "not_in_optimizer",
    "scaler_steps",
    "zeroed_before_step",
]


def grad_accumulation(seen: Observations) -> list[Finding]:
    """With optimizers, a ``.grad`` that a step used and that later calls added to before a step
    used it again (micro-batches summed then stepped once, or gradients zeroed before any step
    used them, are fine); with none, any sum over calls (the tutorials' g, 2g, 3g)."""
    summed = seen.stale if seen.steps else seen.accumulated
    if not summed:
        return []
    keys = list(summed)
    calls = summed[keys[0]]
    source = next((c.source for c in seen.calls if c.name == calls[-1]), None)
    span = f"calls {calls[0]}-{calls[-1]}" if len(calls) > 2 else f"calls {' and '.join(calls)}"
    params = named(seen.names, keys)
    if seen.steps:
        step = seen.stale_step
        at = f" at line {step.line}" if step is not None else ""
        message = (
            f"The .grad of {listed(params)} summed the gradients of {span}, and the optimizer "
            f"step{at} used it again: nothing zeroed it after the step that used it before."
        )
    else:
        message = (
            f"The .grad of {listed(params)} summed the gradients of {span}: nothing zeroed it "
            "in between."
        )
    return [
        Finding(
            "grad-accumulation",
            message,
            "Call optimizer.zero_grad() (or set .grad = None) before each backward; if you "
            "accumulate over micro-batches on purpose, zero after each optimizer step.",
            params=params,
            source=source,
        )
    ]


def zeroed_before_step(seen: Observations) -> list[Finding]:
    """Steps that found every gradient written since the step before zeroed."""
    if not seen.emptied:
        return []
    first = seen.emptied[0]
    at = f" (line {first.step_source.line})" if first.step_source is not None else ""
    call_at = f" (line {first.call_source.line})" if first.call_source is not None else ""
    zero = first.zero_source
    what = f"zero_grad() at line {zero.line}" if zero is not None else "something"
    how_many = len(seen.emptied)
    share = f" {how_many} of {seen.steps} steps were like this." if how_many > 1 else ""
    return [
        Finding(
            "zeroed-before-step",
            f"Optimizer step {first.step}{at} found the gradients of its {first.params} "
            f"parameter(s) zeroed since backward call {first.call}{call_at}: {what} ran between "
            f"backward and step, so the step changed nothing.{share}",
            "Call zero_grad() before loss.backward() (or after optimizer.step()), never "
            "between backward and step.",
            source=zero or first.step_source,
        )
    ]


def not_in_optimizer(seen: Observations) -> list[Finding]:
    """Parameters that got gradients while optimizers stepped, none of which held them."""
    if not seen.held:
        return []
    keys = [
        k
        for k, requires_grad in seen.params.items()
        if requires_grad and k in seen.reached and k not in seen.held
    ]
    if not keys:
        return []
    params = named(seen.names, keys)
    where = next((seen.assigned[k] for k in keys if k in seen.assigned), None)
    module = params[0].rpartition(".")[0]
    assigned = (
        f" ({module} was assigned at line {where.line})" if where is not None and module else ""
    )
    n = len(params)
    return [
        Finding(
            "not-in-optimizer",
            f"{listed(params)} {one_or_many(n, 'gets', 'get')} gradients, but no optimizer that "
            f"stepped holds {one_or_many(n, 'it', 'them')}{assigned}: "
            f"{one_or_many(n, 'it', 'they')} never change.",
            "Build the optimizer after the model is complete (a module replaced later keeps its "
            "new parameters out of it), or add them with optimizer.add_param_group(); if they "
            "should not learn, set requires_grad_(False).",
            params=params,
            source=where,
        )
    ]


def idle_params(seen: Observations) -> list[Finding]:
    """Parameters that some steps left without a gradient (experts no token was routed to,
    alternating heads): no bug, but worth knowing, and DDP needs to be told."""
    keys = [k for k, (idle, _) in seen.idle.items() if idle]
    if not keys:
        return []
    params = named(seen.names, keys)
    shares = sorted({(seen.idle[k][0], seen.idle[k][1]) for k in keys})
    low, high = shares[0], shares[-1]
    how_often = (
        f"{low[0]} of {low[1]}"
        if low == high
        else f"{min(s[0] for s in shares)} to {max(s[0] for s in shares)} of their {high[1]}"
    )
    n = len(params)
    return [
        Finding(
            "idle-param",
            f"{listed(params)} got no gradient at {how_often} optimizer steps: "
            f"{one_or_many(n, 'it is', 'they are')} used on some steps only.",
            "Nothing to do when that is the design (a mixture of experts, alternating heads); "
            "under DistributedDataParallel, pass find_unused_parameters=True.",
            params=params,
        )
    ]


STALLED: Final = 5
"""`scaler-stalled`: this many ``GradScaler`` updates in a row at the end skipped their step."""


def scaler_steps(seen: Observations) -> list[Finding]:
    """What the ``GradScaler`` did with non-finite gradients: skipped steps are its design."""
    path = seen.scaler
    if path is None or not path.skipped:
        return []
    scale = f"scale {_scale(path.first)} → {_scale(path.last)}"
    if path.trailing >= STALLED:
        return [
            Finding(
                "scaler-stalled",
                f"GradScaler skipped the last {path.trailing} steps in a row ({path.skipped} of "
                f"{path.updates} in all, {scale}): training has stopped stepping.",
                "The gradients are non-finite at any scale: look for a NaN or Inf in the "
                "forward pass or the loss (run without autocast to see it), or train in "
                "bfloat16 or float32.",
            )
        ]
    return [
        Finding(
            "scaler-skipped",
            f"GradScaler skipped {path.skipped} of {path.updates} steps (non-finite gradients "
            f"at the scale of the time), {scale}.",
            "Expected with float16: the scaler lowers the scale until the gradients fit, and "
            "steps are skipped meanwhile.",
        )
    ]


def _scale(value: float) -> str:
    """``65,536``; ``0.125``."""
    return f"{value:,.0f}" if value >= 1 and value.is_integer() else f"{value:g}"
