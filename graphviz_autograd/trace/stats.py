"""Summaries of tensor values: what a `Graph` keeps instead of the tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import torch

from ..model import TensorStats

__all__ = [
    "DTYPE_NAMES",
    "MAX_VALUES",
    "Unread",
    "dtype_name",
    "same_values",
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

    Statistics cover the finite entries only; NaN and Inf are counted apart. Each shown to 4
    significant digits equals a float64 computation within one unit of the last digit; a big
    tensor is read in four passes or so (`_large`), never copied whole to float64. Complex
    tensors are summarised by magnitude, sparse ones by their stored values, nested ones by the
    values of all their components (and no shape).

    A CPU tensor past the fast path for small ones is read on the calling thread alone
    (`_on_one_thread`): torch splits a reduction between its threads past 32,768 values
    (``at::internal::GRAIN_SIZE``) and MKL's dot far below that (8,192 values did), and on a
    busy machine each such op waits for a worker thread the OS gave to another process.
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
    if tensor.is_cpu:
        return _on_one_thread(shape, tensor)
    return _summarize(shape, tensor)  # a device's kernels: no thread of ours waits on them


def _on_one_thread(shape: tuple[int, ...] | None, tensor: torch.Tensor) -> TensorStats:
    """`_summarize` with torch's intra-op threads set to one, then set back, on error too
    (under 1 µs). The count is per thread in OpenMP (``omp_set_num_threads``) and in MKL
    (``mkl_set_num_threads_local``): other threads that already ran a torch op keep theirs, one
    whose first op starts meanwhile takes one thread, and threads started later take this
    thread's count (``torch.set_num_threads`` also sets the process-wide default)."""
    threads = torch.get_num_threads()
    if threads == 1:
        return _summarize(shape, tensor)
    torch.set_num_threads(1)
    try:
        return _summarize(shape, tensor)
    finally:
        torch.set_num_threads(threads)


def _summarize(shape: tuple[int, ...] | None, tensor: torch.Tensor) -> TensorStats:
    """`summarize` of a tensor past the fast path for small plain ones."""
    t = tensor.detach()  # what is computed from it records no graph
    if t.is_nested:
        t = torch.cat([part.reshape(-1) for part in t.unbind()])
    elif t.layout != torch.strided:
        t = t.coalesce().values() if t.is_sparse else t.to_dense()
    if t.is_complex():
        t = t.abs()
    if t.is_meta:
        return TensorStats(shape, None, None, None, None, 0, 0)
    if t.numel() <= MAX_VALUES:  # few values: one copy, then plain Python (fast)
        return _small(shape, [float(v) for v in t.reshape(-1).tolist()])
    return _large(shape, _in_memory_order(t))


def _in_memory_order(t: torch.Tensor) -> torch.Tensor:
    """``t``'s values as one flat tensor in the order they lie in memory: a view of a tensor
    whose dimensions are a permutation of a contiguous one's (a gradient of a transpose), where
    ``reshape(-1)`` would copy it (no figure of a summary depends on the order)."""
    if t.is_contiguous():
        return t.view(-1)
    return _permuted(t).reshape(-1)


def _permuted(t: torch.Tensor) -> torch.Tensor:
    """``t`` with its dimensions in memory order (contiguous when ``t`` is a transpose or a
    permutation of a contiguous tensor)."""
    return t.permute(sorted(range(t.dim()), key=t.stride, reverse=True))


def same_values(tensor: torch.Tensor) -> tuple[object, ...] | None:
    """A key shared by the tensors whose `summarize` is the same but for the shape: views of
    one block of memory, each a reshape or a permutation of a contiguous tensor over the whole
    block, read in memory order (a gradient and its transpose, or a view of it the engine hands
    on). None for a tensor this cannot tell of (small ones keep their values in logical order;
    strided slices; anything but a plain CPU or device tensor). Equal keys mean equal values
    only while the first tensor lives and neither was changed in place: its holder checks."""
    if (
        type(tensor) is not torch.Tensor
        or tensor.layout != torch.strided
        or tensor.is_nested
        or tensor.numel() <= MAX_VALUES
        or not (tensor.is_contiguous() or _permuted(tensor).is_contiguous())
    ):
        return None
    return (tensor.data_ptr(), tensor.numel(), tensor.dtype, tensor.device)


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


CHUNK: Final = 1 << 18
"""Sums of squares (`torch.dot`) and float64 sums are taken over chunks of this many values,
added in float64. A float32 dot over 10 M values was off by 1e-4 to 2e-2 of itself here, over
2**18 by 5e-6. A float64 sum of a float32 tensor first copies it to float64 (torch casts the
input of a reduction): over 2.4 M values at once, a fresh 19 MB whose page faults took 15-85 ms
on a busy machine (1.2 ms at best), against 0.6 ms in chunks."""

WIDE_SUM_MAX: Final = 4096
"""Tensors with at most this many values are summed with float64 accumulation outright."""


def _large(shape: tuple[int, ...] | None, flat: torch.Tensor) -> TensorStats:
    """`summarize` of the flat tensor ``flat`` (more than `MAX_VALUES` values): a sum of
    squares, the smallest value, the largest and a sum, each one pass over ``flat`` in its own
    dtype; NaN and Inf are counted only when the sum of squares is not finite (a finite one
    proves there are none)."""
    if flat.dtype in (torch.float16, torch.bfloat16):  # a 16-bit dot overflows at 256
        flat = flat.float()
    elif not flat.is_floating_point():  # integers and bools: exact in float64
        flat = flat.to(torch.float32 if flat.is_mps else torch.float64)
    nan = inf = 0
    squares = _squares(flat)
    if not math.isfinite(squares):
        nan, inf = int(torch.isnan(flat).sum()), int(torch.isinf(flat).sum())
        if nan or inf:
            flat = flat[torch.isfinite(flat)]
            if flat.numel() == 0:
                return TensorStats(shape, None, None, None, None, nan, inf)
            squares = _squares(flat)
    low, high = float(flat.amin()), float(flat.amax())  # 0.6x one `aminmax` (2.4 M values)
    largest = max(-low, high)
    info = torch.finfo(flat.dtype)
    if math.isfinite(squares) and not 0 < largest < math.sqrt(info.tiny / info.eps):
        norm = math.sqrt(squares)
    else:  # the squares overflowed, or the largest is nearly subnormal: scale by the largest
        norm = largest * math.sqrt(_squares(flat / largest))
    return TensorStats(shape, norm, low, high, _sum(flat, norm) / flat.numel(), nan, inf)


def _squares(flat: torch.Tensor) -> float:
    """The sum of the squares of ``flat``'s values (not finite when any is NaN or Inf)."""
    if flat.numel() <= CHUNK:
        return float(torch.dot(flat, flat))
    return math.fsum(float(torch.dot(part, part)) for part in torch.split(flat, CHUNK))


def _sum(flat: torch.Tensor, norm: float) -> float:
    """The sum of ``flat``'s finite values, exact enough for 4 significant digits.

    torch's float32 sum (a cascade) was off by up to ~5e-8 of the sum of magnitudes in trials
    here, on values whose SIMD lanes each hold one sign too: a float32 sum is kept where the
    mean is at least 1/1000 of the root mean square, where that is under 4e-5 of the sum. Where
    values cancel (gradients after a LayerNorm or a softmax sum to zero but for rounding) the
    float32 sum can be off by several times itself: those, float64 and small tensors are
    summed with float64 accumulation, 5-8x slower than a float32 sum here (over `CHUNK` values
    at a time)."""
    if flat.is_mps:  # MPS has no float64
        return float(flat.sum())
    n = flat.numel()
    if flat.dtype != torch.float64 and n > WIDE_SUM_MAX:
        total = float(flat.sum())
        if abs(total) * 1000 >= math.sqrt(n) * norm:
            return total
    if n <= CHUNK:
        return float(flat.sum(dtype=torch.float64))
    return math.fsum(float(part.sum(dtype=torch.float64)) for part in torch.split(flat, CHUNK))


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
