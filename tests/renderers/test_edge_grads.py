"""Edge gradients: what flowed along each edge in a captured backward, in the model, JSON, DOT
and the tree. Torch is the oracle: the flows into a leaf add up to its ``.grad``."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch
from conftest import Gradviz, Ran
from rich.console import Console

from graphviz_autograd import capture
from graphviz_autograd.model import Edge, Graph
from graphviz_autograd.renderers.dot import EDGE_GRADS_UP_TO, to_dot
from graphviz_autograd.renderers.json import to_json
from graphviz_autograd.renderers.tree import print_graph_tree

NEURONS = Path(__file__).parents[2] / "samples" / "neurons.py"


def neurons() -> tuple[Graph, dict[str, torch.Tensor]]:
    with capture() as cap:
        ns = runpy.run_path(str(NEURONS))
    return cap.graph, ns


def edges_from(graph: Graph, name: str) -> list[Edge]:
    (leaf,) = [n for n in graph.nodes if n.name == name]
    return [e for e in graph.edges if e.src == leaf.id]


def value(edge: Edge) -> float:
    assert edge.grad is not None and edge.grad.values is not None
    (v,) = edge.grad.values
    return v


def test_a_gets_two_flows_that_add_up_to_its_grad() -> None:
    graph, ns = neurons()
    a = edges_from(graph, "a")
    assert [value(e) for e in a] == [-1.5, 0.375]
    assert sum(value(e) for e in a) == pytest.approx(ns["a"].grad.item()) == -1.125
    # The local derivatives db/da = w1 and dc/da = w2: the tutorial's multiplications.
    assert [e.local for e in a] == [ns["w1"].item(), ns["w2"].item()] == [0.5, -1.5]


def test_each_flow_is_the_consumers_gradient_times_its_local_derivative() -> None:
    graph, _ = neurons()
    for edge in graph.edges:
        out = graph.node(edge.dst).grad
        assert edge.local is not None and out is not None and out.values is not None
        assert value(edge) == pytest.approx(out.values[0] * edge.local)


def test_flows_into_each_leaf_add_up_to_its_grad_on_a_small_net() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    x = torch.randn(5, 3)
    with capture(params=dict(net.named_parameters())) as cap:
        net(x).pow(2).sum().backward()
    graph = cap.graph
    for name, param in net.named_parameters():
        flows = [e.grad for e in edges_from(graph, name)]
        assert flows and all(f is not None and f.values is not None for f in flows)
        total = sum(torch.tensor(f.values) for f in flows if f is not None and f.values)
        assert torch.allclose(total, param.grad.flatten(), atol=1e-6)
        # Not one number: no local derivative.
        assert all(e.local is None for e in edges_from(graph, name))


def test_json_edges_carry_grad_and_local() -> None:
    graph, _ = neurons()
    doc = json.loads(to_json(graph))
    (a,) = [n["id"] for n in doc["nodes"] if n["name"] == "a"]
    into = [e for e in doc["edges"] if e["src"] == a]
    assert [(e["grad"]["values"], e["local"]) for e in into] == [([-1.5], 0.5), ([0.375], -1.5)]


def test_dot_labels_edges_of_small_graphs_unless_told_not_to() -> None:
    graph, _ = neurons()
    labelled = to_dot(graph)
    assert 'label=" -1.5 (×0.5)"' in labelled
    assert 'label=" 0.375 (×-1.5)"' in labelled
    assert "edge: the gradient passed to the input; d: the local derivative" in labelled
    plain = to_dot(graph, edge_grads=False)
    assert "×0.5" not in plain and plain.count(" -> ") == labelled.count(" -> ")


def test_big_graphs_get_no_edge_labels_unless_asked() -> None:
    x = torch.ones(2, requires_grad=True)
    y = x
    for _ in range(EDGE_GRADS_UP_TO):
        y = y * 1.0
    with capture() as cap:
        y.sum().backward()
    assert len(cap.graph) > EDGE_GRADS_UP_TO
    assert 'label=" ‖·‖=' not in to_dot(cap.graph)
    labelled = to_dot(cap.graph, edge_grads=True)
    assert 'label=" ‖·‖=1.414"' in labelled
    # No scalar flow, no local derivative: the legend does not speak of one.
    assert "the gradient passed to the input</td>" in labelled and "(×d)" not in labelled


def test_tree_shows_what_flowed_to_each_input() -> None:
    graph, _ = neurons()
    console = Console(width=200, record=True, color_system=None)
    print_graph_tree(graph, console=console)
    text = console.export_text()
    assert "a  () float32  grad=-1.125  n9  ⟵ -1.5 (×0.5)" in text
    assert "↑ n9 a  ⟵ 0.375 (×-1.5)" in text


def test_cli_switch(gradviz: Gradviz, tmp_path: Path) -> None:
    def run(*args: str) -> Ran:
        return gradviz("run", NEURONS, "-o", "-", "-f", "dot", *args, cwd=tmp_path)

    on, off = run(), run("--no-edge-grads")
    assert on.returncode == off.returncode == 0, on.stderr + off.stderr
    assert "-1.5 (×0.5)" in on.stdout
    assert "×" not in off.stdout
