"""The lessons of docs/lessons.md: each sample's numbers, checked against torch or by hand,
and what gradviz records of it."""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any

import pytest
import torch

from graphviz_autograd import capture
from graphviz_autograd.model import Graph

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LESSONS = Path(__file__).resolve().parent.parent / "docs" / "lessons.md"


def run(name: str, **options: Any) -> tuple[dict[str, Any], list[Graph]]:
    with capture(**options) as cap:
        ns = runpy.run_path(str(SAMPLES / f"{name}.py"), run_name="__main__")
    return ns, [c.graph for c in cap.calls]


def grad_of(graph: Graph, name: str) -> list[float]:
    (node,) = [n for n in graph.nodes if n.name == name]
    assert node.grad is not None and node.grad.values is not None
    return list(node.grad.values)


def test_every_lesson_sample_is_in_the_gallery() -> None:
    text = LESSONS.read_text()
    for name in (
        "leaf_vs_nonleaf", "no_grad_input", "exp_square", "accumulate", "retain_graph",
        "no_grad", "data_vs_detach", "retain_grad", "vector_backward", "linear_regression",
        "neurons",
    ):  # fmt: skip
        assert f"`samples/{name}.py`: `gradviz run samples/{name}.py" in text
    assert text.count("\n## ") == 11


def test_leaf_vs_nonleaf(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("leaf_vs_nonleaf")
    assert ns["w"].is_leaf and ns["x"].is_leaf and not ns["h"].is_leaf
    assert ns["h"].requires_grad and not ns["x"].requires_grad and ns["x"].grad is None
    assert ns["w"].grad.tolist() == ns["x"].tolist() == grad_of(graph, "w")
    assert "x" not in {n.name for n in graph.nodes}  # untracked: not in the graph


def test_next_functions_none_slot(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("no_grad_input", show_inputs=True)
    mul = next(e for e in ns["z"].grad_fn.next_functions if e[0] is not None)[0]
    assert [fn is None for fn, _ in mul.next_functions] == [False, True]  # w, then x: None
    assert [n.kind for n in graph.nodes].count("input") == 1


def test_exp_square_matches_the_product_rule(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("exp_square")
    x = ns["x"].detach()
    by_hand = 2 * x * x.exp() + x**2 * x.exp()
    assert torch.allclose(ns["x"].grad, by_hand)
    assert grad_of(graph, "x") == pytest.approx(by_hand.tolist(), rel=1e-6)


def test_accumulate_g_2g_3g(capsys: pytest.CaptureFixture[str]) -> None:
    ns, graphs = run("accumulate")
    g = grad_of(graphs[0], "w")[0]
    assert [grad_of(graph, "w")[0] for graph in graphs] == [g, 2 * g, 3 * g] == [-14, -28, -42]


def test_retain_graph_twice_then_freed(capsys: pytest.CaptureFixture[str]) -> None:
    ns, graphs = run("retain_graph")
    assert [grad_of(graph, "x")[0] for graph in graphs[:2]] == [12.0, 24.0]
    assert "second time" in capsys.readouterr().out


def test_no_grad_results_are_constants(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("no_grad")
    assert not ns["u"].requires_grad and not ns["v"].requires_grad
    assert ns["w"].grad.item() == 2 * ns["w"].item() == grad_of(graph, "w")[0]


def test_data_vs_detach(capsys: pytest.CaptureFixture[str]) -> None:
    ns, graphs = run("data_vs_detach")
    assert ns["w"].grad.item() == 6.0 == grad_of(graphs[0], "w")[0]
    assert ns["a"].grad.item() == 0.0  # .data's change went unnoticed: exp(2) was right
    assert math.exp(2) == pytest.approx(7.389, abs=1e-3)


def test_retain_grad_and_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("retain_grad")
    h = ns["h"].detach()
    assert ns["h"].grad.tolist() == (2 * h).tolist() == grad_of(graph, "h")
    assert ns["seen"] == [[1.0, 1.0]] and grad_of(graph, "g") == [1.0, 1.0]
    assert ns["w"].grad.tolist() == (3 * 2 * h).tolist()


def test_vector_backward_is_a_vector_jacobian_product(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("vector_backward")
    x, v = ns["x"].detach(), ns["v"]
    assert torch.allclose(ns["x"].grad, v * 2 * x)
    assert grad_of(graph, "y") == pytest.approx(v.tolist())  # the output's gradient is v


def test_linear_regression_converges(capsys: pytest.CaptureFixture[str]) -> None:
    ns, graphs = run("linear_regression", keep="last")
    assert ns["w"].item() == pytest.approx(2.0, abs=0.01)
    assert ns["b"].item() == pytest.approx(3.0, abs=0.01)
    assert len(graphs) == 1


def test_neurons_chain_rule_on_edges(capsys: pytest.CaptureFixture[str]) -> None:
    ns, (graph,) = run("neurons")
    (a,) = [n.id for n in graph.nodes if n.name == "a"]
    flows = [(e.grad.values, e.local) for e in graph.edges if e.src == a and e.grad]
    assert flows == [((-1.5,), 0.5), ((0.375,), -1.5)]
    grads = {k: ns[k].grad.item() for k in ("a", "w1", "w2", "w3", "w4")}
    assert grads == {"a": -1.125, "w1": -6.0, "w2": -0.5, "w3": -1.0, "w4": 3.0}
