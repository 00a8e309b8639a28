"""Distributed training as a walk meets it: the parameters FSDP2 gathers for forward, named as
the user's, with the gradient this rank holds of each; FSDP2's own autograd nodes; DDP's
numbering of parameters; and calls made inside ``torch.distributed`` code.

The one reader of FSDP2's private state (`gathered_params`): when it is not there (another
torch), the gathered parameters stay unnamed and nothing fails. Nothing here makes a collective
call: a DTensor is read through its local shard (`local`), never reduced, since a rank that
makes a collective call alone waits for the others forever.
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Iterable
from types import FrameType
from typing import Any, Final, NamedTuple

import torch

from ..ranks import Rank
from .frames import PACKAGE

__all__ = [
    "FSDP_NODES",
    "GATHERED_NOTE",
    "OwnNode",
    "SHARD_ATTR",
    "ddp_indices",
    "fsdp_note",
    "gathered_params",
    "in_torch_distributed",
    "local",
]


class OwnNode(NamedTuple):
    """An autograd node FSDP2 adds to the graph."""

    name: str
    """The name gradviz gives it."""
    does: str
    """What it does."""


FSDP_NODES: Final = {
    "RegisterPostBackwardFunctionBackward": OwnNode(
        "FSDP2 post-backward",
        "on a sharded module's inputs, passes the gradient on; then FSDP2 reduce-scatters "
        "its gradients",
    ),
}
"""FSDP2's own autograd nodes, by op name."""

GATHERED_NOTE: Final = (
    "FSDP2: parameters at full shape, as gathered for forward; gradient: the local shard "
    "{rank} holds (no collective call)"
)
SHARD_ATTR: Final = ("gradient", "local shard")
"""The attribute of a leaf FSDP2 gathered: its gradient is this rank's shard."""

_OVERRIDES: Final = os.path.join(os.path.dirname(torch.__file__), "overrides.py")
_DISTRIBUTED: Final = tuple(
    os.path.join(os.path.dirname(torch.__file__), *parts) + os.sep
    for parts in (("distributed",), ("nn", "parallel"))
)


def gathered_params() -> dict[int, torch.Tensor]:
    """``id`` of each parameter FSDP2 gathered (unsharded, a plain tensor: the leaf the backward
    graph reaches) -> the user's parameter (sharded, a DTensor), for every module sharded with
    ``fully_shard`` in this process; empty without FSDP2."""
    registry = sys.modules.get("torch.distributed._composable_state")
    if registry is None:  # torch.distributed never loaded: no FSDP2 either
        return {}
    found: dict[int, torch.Tensor] = {}
    try:  # private API: FSDP2's states, their parameter groups and FSDPParams
        for held in list(registry._module_state_mapping.values()):
            state = held() if isinstance(held, weakref.ref) else held  # a weak one in 2.13
            for group in getattr(state, "_fsdp_param_groups", ()):
                for param in group.fsdp_params:
                    gathered = getattr(param, "_unsharded_param", None)
                    if gathered is not None:
                        found[id(gathered)] = param.sharded_param
    except (AttributeError, TypeError, RuntimeError):
        return {}
    return found


def fsdp_note(rank: Rank | None) -> str:
    """The graph note for a graph whose leaves FSDP2 gathered."""
    return GATHERED_NOTE.format(rank=f"this rank ({rank})" if rank else "this rank")


def local(tensor: Any) -> Any:
    """``tensor``, or for a DTensor its local shard: reading a DTensor's values reduces it
    across ranks (a collective call)."""
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(tensor, dtensor):
        return tensor.to_local()
    return tensor


def _dtensor_type() -> Any:
    module = sys.modules.get("torch.distributed.tensor")
    return getattr(module, "DTensor", None) if module is not None else None


def ddp_indices(modules: Iterable[torch.nn.Module | None]) -> dict[int, int]:
    """``id`` of each parameter of the ``DistributedDataParallel`` modules among ``modules``
    that raise when a parameter gets no gradient (neither ``find_unused_parameters`` nor
    ``static_graph``) -> its index in that error ("Parameter indices which did not receive
    grad for rank 0: 4 5"): DDP counts the parameters that require grad, module by module,
    each once."""
    parallel = sys.modules.get("torch.nn.parallel.distributed")
    ddp = getattr(parallel, "DistributedDataParallel", None)
    found: dict[int, int] = {}
    for module in modules:
        if ddp is None or not isinstance(module, ddp):
            continue
        if module.find_unused_parameters or module.static_graph:  # DDP raises for none then
            continue
        ignored = set(getattr(module, "parameters_to_ignore", ()))
        seen: set[int] = set()
        for path, inner in module.module.named_modules():
            for name, param in inner.named_parameters(recurse=False):
                full = f"{path}.{name}" if path else name
                if param.requires_grad and full not in ignored and id(param) not in seen:
                    seen.add(id(param))
                    found.setdefault(id(param), len(seen) - 1)
    return found


def in_torch_distributed(frame: FrameType | None) -> bool:
    """Whether the innermost frame from ``frame`` outward that is not gradviz's or
    ``torch/overrides.py`` is in ``torch.distributed`` or ``torch.nn.parallel``: DDP broadcasting
    parameters, FSDP2 gathering them."""
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(PACKAGE) or name == _OVERRIDES):
            return name.startswith(_DISTRIBUTED)
        frame = frame.f_back
    return False
