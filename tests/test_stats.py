"""summarize(): a tensor's values reduced to plain numbers, checked against torch."""

from __future__ import annotations

import math

import pytest
import torch

from graphviz_autograd.model import TensorStats
from graphviz_autograd.stats import MAX_VALUES, Unread, dtype_name, summarize, unread_note


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
