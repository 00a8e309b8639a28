"""Small torch-side reads both of the doctor's watches use: the user's line and names, the
leaves autograd nodes lead to, and whether a tensor's values are finite."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any, Final

import torch

from ..model import Source
from ..trace.distributed import gathered_params, local
from ..trace.frames import user_frame
from ..trace.sources import SourceReader
from .observations import Site

__all__ = [
    "CALL_KEY",
    "WALK_LIMIT",
    "checkable",
    "bound_to",
    "finite",
    "leaves",
    "marked",
    "nodes",
    "name_in",
    "site",
    "source",
    "tensors",
]

CALL_KEY: Final = "gradviz.call"  # node.metadata: the backward call that first ran the node
WALK_LIMIT: Final = 200_000  # nodes per walk looking for leaves


def site(frame: FrameType | None) -> Site | None:
    """The user's line: that of the innermost frame outside torch and gradviz."""
    user = user_frame(frame)
    return None if user is None else Site(user.f_code.co_filename, user.f_lineno)


def source(reader: SourceReader, line: Site | None) -> Source | None:
    """The `Source` of a line the watches noted (its text read once per line)."""
    return None if line is None else reader.source_at(*line)


def name_in(frame: FrameType | None, tensor: object) -> str | None:
    """The name of a local (then global) variable of the user's ``frame`` bound to ``tensor``."""
    return _name_where(frame, lambda value: value is tensor)


def bound_to(frame: FrameType | None, fn: Any) -> str | None:
    """The name of a variable of the user's ``frame`` bound to a tensor that the autograd node
    ``fn`` made (``tensor.grad_fn is fn``)."""
    return _name_where(frame, lambda value: isinstance(value, torch.Tensor) and value.grad_fn is fn)


def _name_where(frame: FrameType | None, match: Callable[[Any], bool]) -> str | None:
    """The first local (then global) variable of the user's ``frame`` whose value ``match``es,
    names beginning with ``_`` left out."""
    user = user_frame(frame)
    if user is None:
        return None
    for scope in (user.f_locals, user.f_globals):
        for name, value in list(scope.items()):
            if not name.startswith("_") and match(value):
                return name
    return None


def tensors(args: Iterable[Any]) -> Iterable[torch.Tensor]:
    """Tensors among ``args``, and inside lists and tuples among them."""
    for arg in args:
        if isinstance(arg, torch.Tensor):
            yield arg
        elif isinstance(arg, (list, tuple)):
            yield from (a for a in arg if isinstance(a, torch.Tensor))


def nodes(fns: Iterable[Any]) -> Iterator[Any]:
    """Each autograd node the nodes ``fns`` lead to (themselves included), once, up to
    `WALK_LIMIT` of them."""
    seen: set[int] = set()
    todo = [fn for fn in fns if fn is not None]
    while todo and len(seen) < WALK_LIMIT:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        yield fn
        todo.extend(next_fn for next_fn, _ in fn.next_functions if next_fn is not None)


def leaves(fns: Iterable[Any], call: str | None = None) -> dict[int, torch.Tensor]:
    """The leaf tensors (``AccumulateGrad.variable``) the autograd nodes ``fns`` lead to, by
    key. With ``call``, each node not run by an earlier call is noted as run (and freed) by
    ``call``. A parameter FSDP2 gathered for forward is found as the user's (sharded) one."""
    found: dict[int, torch.Tensor] = {}
    shards = gathered_params()
    for fn in nodes(fns):
        if call is not None:
            fn.metadata.setdefault(CALL_KEY, call)
        variable = getattr(fn, "variable", None)
        if isinstance(variable, torch.Tensor):
            variable = shards.get(id(variable), variable) if shards else variable
            found[id(variable)] = variable
    return found


def marked(fns: Iterable[Any], key: str) -> set[Any]:
    """The values of ``metadata[key]`` on the autograd nodes ``fns`` lead to."""
    return {value for fn in nodes(fns) if (value := fn.metadata.get(key)) is not None}


def finite(tensor: torch.Tensor) -> bool:
    """Whether every value is finite: one sum (a finite sum has no NaN nor Inf), and
    ``isfinite`` only when the sum is not finite (finite values can sum to Inf). A DTensor's
    local shard only: summing the whole would be a collective call."""
    tensor = local(tensor)
    if math.isfinite(tensor.sum().item()):
        return True
    return bool(torch.isfinite(tensor).all())


def checkable(tensor: torch.Tensor) -> bool:
    """Whether `finite` (or a norm) can read ``tensor``: dense floating-point values."""
    return (
        tensor.dtype.is_floating_point
        and tensor.layout is torch.strided
        and tensor.device.type != "meta"
        and tensor.numel() > 0
    )
