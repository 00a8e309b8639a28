"""JSON, schema gradviz-graph version 1: golden files, exact keys, strict parsing."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from graphviz_autograd.model import Edge, Graph, Node, TensorStats
from graphviz_autograd.renderers.json import to_json

TOP_KEYS = ["format", "version", "roots", "nodes", "edges"]
NODE_KEYS = ["id", "kind", "op", "name", "is_leaf", "requires_grad", "shape", "dtype", "grad"]
GRAD_KEYS = ["shape", "norm", "min", "max", "mean", "nan", "inf", "values"]
EDGE_KEYS = ["src", "dst", "slot"]


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity literals (which are not JSON)."""

    def refuse(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def after_backward() -> Graph:
    """loss = (w * x).sum() + b with x needing no grad; w's gradient holds NaN and Inf."""
    w_grad = TensorStats(
        (2, 2), 2.5, -1.5, 2.0, 0.25, 1, 1, (float("nan"), -1.5, 2.0, float("-inf"))
    )
    return Graph(
        nodes=(
            Node("n0", "op", op="AddBackward0", name="loss", shape=(), dtype="float32"),
            Node("n1", "op", op="SumBackward0", shape=(), dtype="float32"),
            Node("n2", "op", op="MulBackward0", shape=(2, 2), dtype="float32"),
            Node("n3", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(2, 2),
                 dtype="float32", grad=w_grad),
            Node("n4", "input", requires_grad=False),
            Node("n5", "leaf", op="AccumulateGrad", name="b", is_leaf=True, shape=(),
                 dtype="float32", grad=TensorStats((), 1.0, 1.0, 1.0, 1.0, 0, 0, (1.0,))),
        ),
        edges=(
            Edge("n1", "n0", 0),
            Edge("n2", "n1", 0),
            Edge("n3", "n2", 0),
            Edge("n4", "n2", 1),
            Edge("n5", "n0", 1),
        ),
        roots=("n0",),
    )  # fmt: skip


def extras() -> Graph:
    """Optional keys: a big gradient (no values), retains_grad, attrs, saved tensors."""
    big = TensorStats((10, 8), 12.5, -1.0, 1.5, 0.0125, 0, 0, None)
    return Graph(
        nodes=(
            Node("n0", "op", op="MmBackward0", name="out", retains_grad=True, shape=(4, 8),
                 dtype="float32", grad=TensorStats((4, 8), 0.0, 0.0, 0.0, 0.0, 0, 0, (0.0,) * 32),
                 attrs=(("self_sym_sizes", "(4, 10)"), ("mat2_sym_strides", "(8, 1)"))),
            Node("n1", "saved", name="self", requires_grad=False, shape=(4, 10),
                 dtype="float32"),
            Node("n2", "saved", name="mat2", requires_grad=False, freed=True),
            Node("n3", "leaf", op="AccumulateGrad", name="fc.weight", is_leaf=True,
                 shape=(10, 8), dtype="float32", grad=big),
        ),
        edges=(Edge("n1", "n0", None, "saved"), Edge("n2", "n0", None, "saved"),
               Edge("n3", "n0", 1)),
        roots=("n0",),
    )  # fmt: skip


CASES: dict[str, Callable[[], Graph]] = {"after_backward": after_backward, "extras": extras}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_golden_json(case: str, golden: Callable[[str, str], None]) -> None:
    text = to_json(CASES[case]())
    strict_loads(text)
    golden(f"{case}.json", text)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_version_1_keys(case: str) -> None:
    doc = strict_loads(to_json(CASES[case]()))
    assert [k for k in doc if k in TOP_KEYS] == TOP_KEYS  # version 1 keys, in order
    assert set(doc) - set(TOP_KEYS) <= {"first_nonfinite", "notes"}  # added later
    assert (doc["format"], doc["version"]) == ("gradviz-graph", 1)
    for node in doc["nodes"]:
        assert list(node)[: len(NODE_KEYS)] == NODE_KEYS
        extras = {"retains_grad", "attrs", "freed", "order", "grads", "count"}
        assert set(node) - set(NODE_KEYS) <= extras
        if node["grad"] is not None:
            small = math.prod(node["grad"]["shape"]) <= 64
            assert list(node["grad"]) == (GRAD_KEYS if small else GRAD_KEYS[:-1])
    for edge in doc["edges"]:
        assert list(edge)[:3] == EDGE_KEYS
        assert set(edge) - set(EDGE_KEYS) <= {"kind"}


def test_values_present_only_up_to_64_elements() -> None:
    doc = strict_loads(to_json(extras()))
    grads = {n["id"]: n["grad"] for n in doc["nodes"]}
    assert grads["n0"]["values"] == [0.0] * 32
    assert "values" not in grads["n3"]
    assert grads["n3"]["shape"] == [10, 8]
    assert grads["n1"] is None


def test_content_matches_the_graph() -> None:
    graph = after_backward()
    doc = strict_loads(to_json(graph))
    assert doc["roots"] == ["n0"]
    assert [n["id"] for n in doc["nodes"]] == [n.id for n in graph.nodes]
    assert doc["edges"] == [{"src": e.src, "dst": e.dst, "slot": e.slot} for e in graph.edges]
    w = doc["nodes"][3]
    assert (w["kind"], w["op"], w["name"], w["is_leaf"], w["shape"], w["dtype"]) == (
        "leaf",
        "AccumulateGrad",
        "w",
        True,
        [2, 2],
        "float32",
    )
    assert doc["nodes"][4]["op"] is None and doc["nodes"][4]["requires_grad"] is False
    assert doc["nodes"][5]["shape"] == [] and doc["nodes"][5]["grad"]["values"] == [1.0]


def test_nan_and_inf_values_are_strings() -> None:
    text = to_json(after_backward())
    assert "NaN" not in text and "Infinity" not in text
    grad = strict_loads(text)["nodes"][3]["grad"]
    assert grad["values"] == ["nan", -1.5, 2.0, "-inf"]
    assert (grad["nan"], grad["inf"]) == (1, 1)
    assert (grad["norm"], grad["min"], grad["max"], grad["mean"]) == (2.5, -1.5, 2.0, 0.25)


def test_overflowing_statistics_are_strings() -> None:
    # A float64 gradient of finite 1e200s has an infinite norm: still strict JSON.
    stats = TensorStats((2,), math.inf, 1e200, 1e200, 1e200, 0, 0, (1e200, 1e200))
    leaf = Node("n0", "leaf", op="AccumulateGrad", is_leaf=True, shape=(2,), grad=stats)
    grad = strict_loads(to_json(Graph((leaf,), (), ("n0",))))["nodes"][0]["grad"]
    assert grad["norm"] == "inf"
    assert grad["values"] == [1e200, 1e200]


def test_all_non_finite_gradient_has_null_statistics() -> None:
    stats = TensorStats((2,), None, None, None, None, 1, 1, (math.nan, math.inf))
    leaf = Node("n0", "leaf", op="AccumulateGrad", is_leaf=True, shape=(2,), grad=stats)
    grad = strict_loads(to_json(Graph((leaf,), (), ("n0",))))["nodes"][0]["grad"]
    assert [grad[k] for k in ("norm", "min", "max", "mean")] == [None] * 4
    assert grad["values"] == ["nan", "inf"]


def test_hostile_and_unicode_names_round_trip() -> None:
    name = '<script>alert(1)</script>"];x->y;\n\\ ‖·‖'
    leaf = Node("n0", "leaf", op="AccumulateGrad", name=name, is_leaf=True)
    doc = strict_loads(to_json(Graph((leaf,), (), ("n0",))))
    assert doc["nodes"][0]["name"] == name


def test_one_node_or_edge_per_line_and_same_bytes() -> None:
    text = to_json(after_backward())
    assert text == to_json(after_backward())
    assert text.endswith("}\n")
    assert sum(line.startswith('    {"id": ') for line in text.splitlines()) == 6
    assert sum(line.startswith('    {"src": ') for line in text.splitlines()) == 5


def test_empty_edges() -> None:
    leaf = Node("n0", "leaf", op="AccumulateGrad", is_leaf=True)
    doc = strict_loads(to_json(Graph((leaf,), (), ("n0",))))
    assert doc["edges"] == []
