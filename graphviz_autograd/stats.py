"""Summaries of tensor values: what a `Graph` keeps instead of the tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import torch

from .model import TensorStats

__all__ = [
    "DTYPE_NAMES",
    "MAX_VALUES",
    "Unread",
    "dtype_name",
    "shape_of",
    "summarize",
    "unread_note",
]

MAX_VALUES: Final = 64
"""Tensors with at most this many elements keep their values in the summary."""


class _DtypeNames(dict[torch.dtype, str]):
    """``torch.float32`` -> ``"float32"``, each made once: ``str(dtype)`` takes ~15 µs."""

    def __missing__(self, dtype: torch.dtype) -> str:
        name = self[dtype] = str(dtype).removeprefix("torch.")
        return name


DTYPE_NAMES: Final = _DtypeNames()
"""``DTYPE_NAMES[torch.float32] == "float32"``; its ``__getitem__`` maps in C."""


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return DTYPE_NAMES[dtype]


def shape_of(tensor: torch.Tensor) -> tuple[int, ...] | None:
    """``tensor``'s shape; None for a nested tensor, whose components differ in shape."""
    return None if tensor.is_nested else tuple(tensor.shape)


def summarize(tensor: torch.Tensor) -> TensorStats:
    """Shape, norm, min, max, mean, NaN/Inf counts and (small tensors) values of ``tensor``.

    Statistics cover the finite entries only; NaN and Inf are counted apart. Complex tensors are
    summarised by magnitude, sparse ones by their stored values, nested ones by the values of
    all their components (and no shape).
    """
    shape = shape_of(tensor)
    if (
        tensor.is_floating_point()
        and tensor.layout == torch.strided
        and not tensor.is_nested
        and tensor.numel() <= MAX_VALUES
        and not tensor.is_meta
    ):  # the common case in hooks over long chains: keep it short
        return _small(shape, _flat(tensor.tolist()))
    with torch.no_grad():
        t = tensor.detach()
        if t.is_nested:
            t = torch.cat([part.reshape(-1) for part in t.unbind()])
        elif t.layout != torch.strided:
            t = t.coalesce().values() if t.is_sparse else t.to_dense()
        if t.is_complex():
            t = t.abs()
        if t.device.type == "meta":
            return TensorStats(shape, None, None, None, None, 0, 0)
        if t.numel() <= MAX_VALUES:  # few values: one copy, then plain Python (fast)
            return _small(shape, [float(v) for v in t.reshape(-1).tolist()])
        # float64 keeps float16/bfloat16 sums exact enough; MPS has no float64.
        t = t.reshape(-1).to(torch.float32 if t.device.type == "mps" else torch.float64)
        nan_mask = torch.isnan(t)
        inf_mask = torch.isinf(t)
        nan, inf = int(nan_mask.sum()), int(inf_mask.sum())
        finite = t[~(nan_mask | inf_mask)] if nan or inf else t
        values = tuple(t.cpu().tolist()) if t.numel() <= MAX_VALUES else None
        if finite.numel() == 0:
            return TensorStats(shape, None, None, None, None, nan, inf, values)
        return TensorStats(
            shape,
            float(torch.linalg.vector_norm(finite)),
            float(finite.min()),
            float(finite.max()),
            float(finite.mean()),
            nan,
            inf,
            values,
        )


class Unread(dict[int, str]):
    """Node index -> why a gradient of that node could not be summarised (`Unread.summarize`).
    A gradient that cannot be read (a tensor subclass such as ``MaskedTensor``) must never
    fail the backward it was recorded in, nor lose the rest of the graph."""

    def summarize(self, tensor: torch.Tensor, index: int) -> TensorStats | None:
        """`summarize` ``tensor``, a gradient of node ``index``; or note why not, and None."""
        try:
            return summarize(tensor)
        except Exception as exc:  # any failure at all: the tensor is the user's
            self.setdefault(index, f"{type(tensor).__name__}: {exc}".splitlines()[0])
            return None


def unread_note(unread: Mapping[int, str]) -> tuple[str, ...]:
    """The graph note for nodes whose gradient could not be summarised: none when all were."""
    if not unread:
        return ()
    what = (
        "the gradient of 1 node" if len(unread) == 1 else f"the gradients of {len(unread):,} nodes"
    )
    return (f"{what} could not be summarised and show no values ({unread[min(unread)]})",)


def _small(shape: tuple[int, ...] | None, values: list[float]) -> TensorStats:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) == len(values):
        return (
            TensorStats(
                shape,
                math.sqrt(math.fsum(v * v for v in values)),
                min(values),
                max(values),
                math.fsum(values) / len(values) if values else None,
                0,
                0,
                tuple(values),
            )
            if values
            else TensorStats(shape, None, None, None, None, 0, 0, ())
        )
    nan = sum(1 for v in values if math.isnan(v))
    inf = len(values) - len(finite) - nan
    if not finite:
        return TensorStats(shape, None, None, None, None, nan, inf, tuple(values))
    return TensorStats(
        shape,
        math.sqrt(math.fsum(v * v for v in finite)),
        min(finite),
        max(finite),
        math.fsum(finite) / len(finite),
        nan,
        inf,
        tuple(values),
    )


def _flat(values: object) -> list[float]:
    """``tensor.tolist()`` flattened: a float for 0-d tensors, nested lists otherwise."""
    if not isinstance(values, list):
        return [values]  # type: ignore[list-item]
    while values and isinstance(values[0], list):
        values = [v for row in values for v in row]
    return values
