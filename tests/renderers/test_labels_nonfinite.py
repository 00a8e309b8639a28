"""Gradient labels of NaN, Inf and negative zero read as what they are."""

from __future__ import annotations

import pytest

from graphviz_autograd.model import TensorStats
from graphviz_autograd.renderers.labels import edge_label, fmt_float, grad_line


def _stats(values: tuple[float, ...], *, nan: int = 0, inf: int = 0) -> TensorStats:
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    norm = sum(v * v for v in finite) ** 0.5 if finite else None
    low, high = (min(finite), max(finite)) if finite else (None, None)
    mean = sum(finite) / len(finite) if finite else None
    return TensorStats((len(values),), norm, low, high, mean, nan, inf, values)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("values", "nan", "inf", "label"),
    [
        ((NAN, NAN), 2, 0, "‖·‖=NaN"),
        ((INF, -INF), 0, 2, "‖·‖=Inf"),
        ((NAN, INF), 1, 1, "‖·‖=NaN/Inf"),
        ((3.0, NAN), 1, 0, "‖·‖=3 NaN/Inf"),
        ((NAN,), 1, 0, "NaN"),
    ],
    ids=["all-nan", "all-inf", "both", "some-nan", "scalar-nan"],
)
def test_an_edge_label_of_a_nonfinite_gradient_has_no_dash(
    values: tuple[float, ...], nan: int, inf: int, label: str
) -> None:
    assert edge_label(_stats(values, nan=nan, inf=inf), None) == label


def test_a_negative_zero_prints_as_zero() -> None:
    assert fmt_float(-0.0) == "0"
    assert grad_line(_stats((-0.0, -0.0))) == "grad ‖·‖=0 [0, 0]"


def test_a_nan_scalar_gradient_is_named_once() -> None:
    assert grad_line(_stats((NAN,), nan=1)) == "grad=NaN"
