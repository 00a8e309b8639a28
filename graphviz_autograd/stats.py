"""Summaries of tensor values: what a `Graph` keeps instead of the tensor."""

from __future__ import annotations

from typing import Final

import torch

from .model import TensorStats

__all__ = ["MAX_VALUES", "dtype_name", "summarize"]

MAX_VALUES: Final = 64
"""Tensors with at most this many elements keep their values in the summary."""


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def summarize(tensor: torch.Tensor) -> TensorStats:
    """Shape, norm, min, max, mean, NaN/Inf counts and (small tensors) values of ``tensor``.

    Statistics cover the finite entries only; NaN and Inf are counted apart. Complex tensors are
    summarised by magnitude, sparse ones by their stored values.
    """
    shape = tuple(tensor.shape)
    with torch.no_grad():
        t = tensor.detach()
        if t.layout != torch.strided:
            t = t.coalesce().values() if t.is_sparse else t.to_dense()
        if t.is_complex():
            t = t.abs()
        if t.device.type == "meta":
            return TensorStats(shape, None, None, None, None, 0, 0)
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
