"""summarize(): a tensor's values reduced to plain numbers, checked against torch."""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from graphviz_autograd.model import TensorStats
from graphviz_autograd.renderers.labels import fmt_float
from graphviz_autograd.trace.stats import (
    CHUNK,
    MAX_VALUES,
    Unread,
    dtype_name,
    summarize,
    unread_note,
)


@pytest.mark.parametrize(
    "tensor",
    [
        torch.tensor(2.5),
        torch.tensor([[1.0, -2.0], [3.0, 0.5]]),
        torch.arange(-5, 7, dtype=torch.float64).reshape(3, 4) / 3,
        torch.linspace(-1, 1, 10, dtype=torch.float16),
        torch.linspace(-1, 1, 10, dtype=torch.bfloat16),
    ],
    ids=["scalar", "2x2-float32", "3x4-float64", "float16", "bfloat16"],
)
def test_stats_equal_torch(tensor: torch.Tensor) -> None:
    stats = summarize(tensor)
    wide = tensor.double()
    assert stats.shape == tuple(tensor.shape)
    assert stats.norm == pytest.approx(float(wide.norm()), rel=1e-12)
    assert stats.min == float(tensor.min())
    assert stats.max == float(tensor.max())
    assert stats.mean == pytest.approx(float(wide.mean()), rel=1e-12)
    assert (stats.nan, stats.inf) == (0, 0)
    assert stats.values == tuple(tensor.flatten().tolist())


@pytest.mark.parametrize(
    ("numel", "has_values"),
    [(MAX_VALUES - 1, True), (MAX_VALUES, True), (MAX_VALUES + 1, False)],
    ids=["63", "64", "65"],
)
def test_values_kept_only_up_to_64_elements(numel: int, has_values: bool) -> None:
    tensor = torch.arange(numel, dtype=torch.float32)
    stats = summarize(tensor)
    assert MAX_VALUES == 64
    if has_values:
        assert stats.values == tuple(float(i) for i in range(numel))
    else:
        assert stats.values is None
        assert stats.max == numel - 1  # the other statistics still cover every entry


def test_stats_cover_finite_entries_and_count_nan_inf() -> None:
    tensor = torch.tensor([math.nan, 1.0, math.inf, -math.inf, 3.0, math.nan])
    stats = summarize(tensor)
    finite = torch.tensor([1.0, 3.0], dtype=torch.float64)
    assert (stats.nan, stats.inf) == (2, 2)
    assert stats.norm == pytest.approx(float(finite.norm()))
    assert (stats.min, stats.max, stats.mean) == (1.0, 3.0, 2.0)
    assert stats.values is not None
    assert [math.isnan(v) for v in stats.values] == [True, False, False, False, False, True]
    assert stats.values[1:5] == (1.0, math.inf, -math.inf, 3.0)


def test_all_non_finite_has_no_statistics() -> None:
    stats = summarize(torch.tensor([math.nan, math.inf]))
    assert (stats.norm, stats.min, stats.max, stats.mean) == (None, None, None, None)
    assert (stats.nan, stats.inf) == (1, 1)


def test_complex_is_summarised_by_magnitude() -> None:
    tensor = torch.tensor([3 + 4j, 0 + 1j, -6 + 8j], dtype=torch.complex64)
    stats = summarize(tensor)
    magnitudes = tensor.abs().double()
    assert stats.shape == (3,)
    assert stats.values == (5.0, 1.0, 10.0)
    assert stats.norm == pytest.approx(float(magnitudes.norm()))
    assert stats.norm == pytest.approx(float(torch.linalg.vector_norm(tensor)))
    assert (stats.min, stats.max) == (1.0, 10.0)
    assert stats.mean == pytest.approx(float(magnitudes.mean()))


@pytest.mark.parametrize("shape", [(0,), (0, 3)], ids=["0", "0x3"])
def test_empty_tensor(shape: tuple[int, ...]) -> None:
    assert summarize(torch.empty(shape)) == TensorStats(shape, None, None, None, None, 0, 0, ())


def test_summary_does_not_touch_autograd() -> None:
    w = torch.tensor([1.0, -3.0], requires_grad=True)
    y = w * 2
    stats = summarize(y)
    assert stats.values == (2.0, -6.0)
    assert y.grad_fn is not None and y.grad_fn.name() == "MulBackward0"
    assert all(isinstance(v, float) for v in stats.values)


@pytest.mark.parametrize(
    ("dtype", "name"),
    [(torch.float32, "float32"), (torch.bfloat16, "bfloat16"), (torch.complex64, "complex64")],
    ids=["float32", "bfloat16", "complex64"],
)
def test_dtype_name(dtype: torch.dtype, name: str) -> None:
    assert dtype_name(dtype) == name


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.masked is a prototype
def test_unread_notes_why_a_tensor_could_not_be_summarised() -> None:
    from torch.masked import masked_tensor

    unread = Unread()
    plain = unread.summarize(torch.tensor([3.0, 4.0]), 0)
    assert plain is not None and plain.norm == 5.0 and unread == {} and unread_note(unread) == ()
    masked = masked_tensor(torch.ones(2), torch.tensor([True, False]))
    assert unread.summarize(masked, 7) is None and unread.summarize(masked, 3) is None
    assert unread.summarize(masked, 7) is None  # one node, counted once
    assert unread[3].startswith("MaskedTensor: ") and sorted(unread) == [3, 7]
    assert unread_note(unread) == (
        f"the gradients of 2 nodes could not be summarised and show no values ({unread[3]})",
    )
    assert unread_note({7: "why"}) == (
        "the gradient of 1 node could not be summarised and show no values (why)",
    )


def _shown_equal(shown: float | None, exact: float) -> bool:
    """``shown`` and ``exact`` as gradviz shows them (`fmt_float`, 4 significant digits)
    differ by at most one unit in the last digit."""
    a, b = float(fmt_float(shown)), float(fmt_float(exact))
    if a == b:
        return True
    smaller = min(abs(a), abs(b)) or max(abs(a), abs(b))
    unit = 10.0 ** (math.floor(math.log10(smaller)) - 3)
    return abs(a - b) <= unit * (1 + 1e-9)


def _layer_norm_grad() -> torch.Tensor:
    """The gradient at a LayerNorm's input: each row sums to zero but for rounding."""
    torch.manual_seed(3)
    x = torch.randn(512, 384, requires_grad=True)
    torch.nn.functional.layer_norm(x, (384,)).backward(torch.randn(512, 384))
    assert x.grad is not None
    return x.grad


def _softmax_grad() -> torch.Tensor:
    """Cross-entropy's gradient at the logits: softmax minus one-hot, rows sum to zero."""
    torch.manual_seed(4)
    logits = torch.randn(4096, 10, requires_grad=True)
    torch.nn.functional.cross_entropy(logits, torch.arange(4096) % 10).backward()
    assert logits.grad is not None
    return logits.grad


def _cases() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    randn = torch.randn(3_000_000)
    wide = torch.randn(200_000) * 10.0 ** torch.empty(200_000).uniform_(-30, 30)
    with_bad = torch.randn(100_000)
    with_bad[::997] = math.nan
    with_bad[5::1999] = math.inf
    with_bad[7::2999] = -math.inf
    cancel = torch.randn(1_000_000)
    cancel -= cancel.mean()
    alternating = cancel.abs() * (torch.arange(1_000_000) % 2 * 2 - 1)
    alternating -= alternating.mean()
    return {
        "randn-3M": randn,  # more than one chunk of squares
        "constant-1M": torch.full((1_000_000,), 0.1),  # a float32 dot alone is off by 2e-5
        "offset": 1000 + torch.randn(1_000_000),  # the mean far above the spread
        "cancelling": cancel,  # mean ~1e-9 of the spread
        "mean-1e-5-of-rms": cancel + 1e-5,  # just too small to trust a float32 sum
        "mean-2e-3-of-rms": cancel + 2e-3,  # a float32 sum kept
        "lanes-of-one-sign": alternating + 1.2e-3,  # the float32 sum's worst case seen
        "layer-norm-grad": _layer_norm_grad(),
        "softmax-grad": _softmax_grad(),
        "huge": torch.randn(50_000) * 1e30,  # squares overflow float32
        "near-max": torch.full((1000,), 3e38),
        "tiny": torch.randn(50_000) * 1e-30,  # squares underflow float32
        "subnormal": torch.randn(1000) * 1e-42,
        "magnitudes-1e-30..1e30": wide,
        "nan-inf": with_bad,
        "float16": torch.randn(100_000).half() * 100,  # a float16 dot overflows
        "bfloat16": (torch.randn(100_000) * 1e20).bfloat16(),
        "float16-cancelling": (cancel[:100_000] * 10).half(),
        "float64": torch.randn(100_000, dtype=torch.float64) - 0.5,
        "transposed": torch.randn(700, 900).t(),
        "int64": torch.arange(-50_000, 50_001),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_shown_figures_equal_float64(name: str) -> None:
    tensor = CASES[name]
    stats = summarize(tensor)
    flat = tensor.reshape(-1).double()
    finite = flat[torch.isfinite(flat)]
    assert (stats.nan, stats.inf) == (int(flat.isnan().sum()), int(flat.isinf().sum()))
    assert stats.values is None and stats.shape == tuple(tensor.shape)
    assert (stats.min, stats.max) == (float(finite.min()), float(finite.max()))  # exact
    scale = float(finite.abs().max())  # float64's own norm over- or underflows past 1e154
    exact_norm = scale * float((finite / scale).norm())
    for shown, exact in ((stats.norm, exact_norm), (stats.mean, float(finite.mean()))):
        assert shown is not None and _shown_equal(shown, exact), (shown, exact)


class _Read(NamedTuple):
    op: str
    numel: int
    """Values of its first input."""
    dtypes: set[torch.dtype]
    """Of its outputs."""
    threads: int
    """torch's intra-op thread count as it ran."""


class _Reads(TorchDispatchMode):
    """Each op that reads a tensor's values: views and aliases (``split``, ``view``,
    ``detach``) do not."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[_Read] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        threads = torch.get_num_threads()
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (list, tuple)) else [out]
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        aliases = any(r.alias_info is not None for r in func._schema.returns)
        if first is not None and not aliases:
            dtypes = {t.dtype for t in outs if isinstance(t, torch.Tensor)}
            self.calls.append(_Read(str(func.overloadpacket), first.numel(), dtypes, threads))
        return out


@pytest.mark.parametrize("transposed", [False, True])
def test_finite_float32_gradient_is_read_in_four_passes_without_a_float64_copy(
    transposed: bool,
) -> None:
    grad = CASES["randn-3M"][:200_000]  # one chunk of squares; its mean is not cancelling
    if transposed:  # read in memory order: no copy
        grad = grad.view(400, 500).t()
    with _Reads() as reads:
        stats = summarize(grad)
    assert stats.nan == 0 and stats.norm is not None
    passes = [read.op for read in reads.calls if read.numel == grad.numel()]
    assert sorted(passes) == ["aten.amax", "aten.amin", "aten.dot", "aten.sum"], reads.calls
    assert not any(torch.float64 in read.dtypes for read in reads.calls if read.numel > 1)


def test_a_cancelling_sum_is_widened_to_float64_one_chunk_at_a_time() -> None:
    """torch copies a float32 tensor to float64 to sum it so: a fresh allocation each time,
    whose page faults took 15-85 ms for 2.4 M values on a busy machine."""
    with _Reads() as reads:
        summarize(CASES["cancelling"])
    widened = [read.numel for read in reads.calls if torch.float64 in read.dtypes]
    assert widened and max(widened) <= CHUNK, reads.calls


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.masked is a prototype
def test_cpu_tensors_are_read_on_the_calling_thread_alone() -> None:
    """On a busy machine each of torch's parallel ops waits for a worker thread the OS gave to
    another process (MKL's dot splits 8,192 values already): every op of a summary runs with
    one intra-op thread, and the thread count is set back after, on error too."""
    from torch.masked import masked_tensor

    torch.manual_seed(6)
    dense = torch.randn(300, 300) * (torch.rand(300, 300) < 0.5)
    tensors = [CASES[name] for name in ("randn-3M", "cancelling", "nan-inf", "float16")]
    tensors += [CASES["transposed"], CASES["int64"], torch.randn(40_000, dtype=torch.complex64)]
    tensors += [torch.randn(8192), dense.to_sparse()]
    masked = masked_tensor(torch.ones(1000), torch.ones(1000, dtype=torch.bool))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for tensor in tensors:
            with _Reads() as reads:
                summarize(tensor)
            assert {read.threads for read in reads.calls} == {1}, (tensor.dtype, tensor.shape)
            assert torch.get_num_threads() == 2
        assert Unread().summarize(masked, 0) is None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.filterwarnings("ignore::UserWarning")  # nested tensors are a prototype
def test_big_complex_sparse_and_nested_gradients_equal_float64() -> None:
    torch.manual_seed(5)
    complex_grad = torch.randn(10_000, dtype=torch.complex64)
    dense = torch.randn(300, 300) * (torch.rand(300, 300) < 0.05)
    nested = torch.nested.nested_tensor([torch.randn(500), torch.randn(700)])
    for tensor, values in (
        (complex_grad, complex_grad.abs()),
        (dense.to_sparse(), dense[dense != 0]),
        (nested, torch.cat(nested.unbind())),
    ):
        stats = summarize(tensor)
        wide = values.double()
        assert (stats.min, stats.max) == (float(wide.min()), float(wide.max()))
        assert stats.norm is not None and _shown_equal(stats.norm, float(wide.norm()))
        assert stats.mean is not None and _shown_equal(stats.mean, float(wide.mean()))
