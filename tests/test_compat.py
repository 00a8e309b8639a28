"""`make_dot`, the torchviz drop-in: torchviz's own test scenarios, side by side with torchviz
0.0.3 when it is installed, and the `graphviz.Digraph` it returns, used as torchviz users do."""

from __future__ import annotations

import inspect
import re
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphviz
import pytest
import torch
from torch import nn

from graphviz_autograd import build_graph, make_dot
from graphviz_autograd.renderers.dot import to_dot

# torchviz 0.0.3 imports distutils and compares versions with it, on every call
pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes:DeprecationWarning")

Scenario = tuple[Any, dict[str, torch.Tensor]]


def mlp() -> Scenario:
    """torchviz's test_mlp_make_dot: an MLP's mean output, with its parameters."""
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("W0", nn.Linear(8, 16))
    model.add_module("tanh", nn.Tanh())
    model.add_module("W1", nn.Linear(16, 1))
    return model(torch.randn(1, 8)).mean(), dict(model.named_parameters())


def double_backprop() -> Scenario:
    """torchviz's test_double_backprop_make_dot: a gradient penalty, autograd.grad with
    create_graph=True, and the input named too."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    x = torch.randn(1, 8, requires_grad=True)
    y = model(x).mean()
    (grad,) = torch.autograd.grad(y, x, create_graph=True, retain_graph=True)
    return grad.pow(2).mean() + y, dict([*model.named_parameters(), ("x", x)])


def lstm() -> Scenario:
    """torchviz's test_lstm_make_dot: an LSTMCell's (h, c) tuple."""
    torch.manual_seed(0)
    cell = nn.LSTMCell(128, 128)
    return cell(torch.randn(1, 128)), dict(cell.named_parameters())


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "mlp": mlp,
    "double_backprop": double_backprop,
    "lstm": lstm,
}


def torchviz() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("torchviz")


def first_lines(dot: graphviz.Digraph) -> list[str]:
    """The first line of each node's label in gradviz's DOT."""
    return [
        m.group(1)
        for line in dot.body
        if (m := re.match(r'  n\d+ \[tooltip=".*?" label="(.*?)(?:\\n|")', line))
    ]


def torchviz_nodes(dot: graphviz.Digraph) -> tuple[Counter[str], set[str], int]:
    """torchviz's drawing, read back: backward functions by name, the names of the blue leaf
    tensors, and the number of edges."""
    ops: Counter[str] = Counter()
    leaves: set[str] = set()
    edges = 0
    for statement in dot.body:
        if "->" in statement:
            edges += 1
            continue
        label = re.search(r'label=(?:"([^"]*)"|(\S+?)[ \]])', statement)
        assert label is not None, statement
        text = label.group(1) if label.group(1) is not None else label.group(2)
        if "lightblue" in statement:
            leaves.add(text.split("\n")[0])
        elif "fillcolor" not in statement and text != "AccumulateGrad":
            ops[text] += 1
    return ops, leaves, edges


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=list(SCENARIOS))
def test_torchviz_scenarios(scenario: str) -> None:
    var, params = SCENARIOS[scenario]()
    dot = make_dot(var, params=params)
    assert isinstance(dot, graphviz.Digraph)
    graph = build_graph(var, params=params)
    assert len(first_lines(dot)) == len(graph) and dot.source.count(" -> ") == graph.edge_count
    assert set(params) <= set(first_lines(dot))  # every parameter drawn under its name
    roots = 2 if scenario == "lstm" else 1
    assert len(graph.roots) == roots


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=list(SCENARIOS))
def test_same_graph_as_torchviz(scenario: str) -> None:
    """The ops and named leaves torchviz draws, gradviz draws; torchviz's extra edges are its
    second node per leaf (tensor -> AccumulateGrad) and per output (grad_fn -> tensor)."""
    theirs = torchviz().make_dot(*SCENARIOS[scenario]())
    var, params = SCENARIOS[scenario]()
    graph = build_graph(var, params=params)
    ops, leaves, edges = torchviz_nodes(theirs)
    assert Counter(n.op for n in graph.nodes if n.kind == "op") == ops
    assert {n.name for n in graph.nodes if n.kind == "leaf"} == leaves
    assert edges == graph.edge_count + len(leaves) + len(graph.roots)
    ours = make_dot(var, params=params)
    assert sorted(first_lines(ours)) == sorted(
        [n.op or "" for n in graph.nodes if n.kind == "op"] + sorted(leaves)
    )


def test_signature_is_torchviz() -> None:
    ours = inspect.signature(make_dot).parameters
    theirs = inspect.signature(torchviz().make_dot).parameters
    assert [(p.name, p.default) for p in theirs.values()] == [
        (p.name, p.default) for p in list(ours.values())[: len(theirs)]
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(ours.values())[len(theirs) :])


def test_saved_and_attrs_after_backward() -> None:
    """torchviz raises on a graph that backward has run through; gradviz draws it."""
    var, params = mlp()
    var.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torchviz().make_dot(var, params=params, show_saved=True, show_attrs=True)
    dot = make_dot(var, params=params, show_saved=True, show_attrs=True)
    assert "saved mat1\\nfreed by backward" in dot.source
    assert 'label="TanhBackward0' in dot.source
    labels = re.findall(r'label="(AddmmBackward0[^"]*)"', dot.source)
    assert labels and all("\\nalpha: 1\\nbeta: 1" in label for label in labels)


def test_attrs_only_when_asked_and_cut_to_max_attr_chars() -> None:
    w = torch.ones(3, 4, requires_grad=True)
    y = w.sum(dim=1, keepdim=True).pow(3).mean()
    assert "exponent: 3" not in make_dot(y).source
    assert "exponent: 3" in make_dot(y, show_attrs=True).source
    cut = make_dot(y, show_attrs=True, max_attr_chars=5).source
    assert "self_sym_sizes: (3..." in cut and "self_sym_sizes: (3, 4)\\n" not in cut
    assert "self_sym_sizes: (3, 4)" in cut  # the tooltip keeps the whole value


def test_any_depth() -> None:
    """torchviz recurses once per op and fails past ~1,000; gradviz walks without recursion,
    and folds a picture of thousands of ops to lay out in seconds."""
    x = torch.ones(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    with pytest.raises(RecursionError):
        torchviz().make_dot(y.sum())
    folded = make_dot(y.sum())
    assert "MulBackward0 ×3000" in folded.source and "folded 2,999 nodes" in folded.source
    full = make_dot(y.sum(), max_nodes=0)
    assert len(first_lines(full)) == 3002  # sum, 3000 muls, x


def test_body_is_gradviz_dot_put_in_at_once() -> None:
    var, params = mlp()
    dot = make_dot(var, params=params)
    text = to_dot(build_graph(var, params=params))
    assert dot.source == text.replace("digraph gradviz {", "digraph {", 1)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in dot.body)
    assert make_dot(*mlp()).source == dot.source  # same program, same bytes


@pytest.mark.dot
def test_digraph_renders_pipes_and_displays(tmp_path: Path) -> None:
    dot = make_dot(*mlp())
    dot.attr(size="4,4")
    assert 'size="4,4"' in dot.source
    svg = dot.pipe(format="svg").decode()
    assert svg.count('class="node"') == len(first_lines(dot))
    assert "W1.weight" in svg
    dot.format = "png"
    out = dot.render(tmp_path / "mlp", cleanup=True)
    assert Path(out).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "mlp").exists()  # cleanup removed the DOT source
    dot.engine = "neato"
    assert dot.pipe(format="svg").startswith(b"<?xml")
    bundle = dot._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]
