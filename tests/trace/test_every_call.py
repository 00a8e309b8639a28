"""Every backward call recorded: ``torch.autograd.grad`` (with ``create_graph=True`` too), a
graph written before a script that calls ``os._exit`` ends, names from a helper module's caller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd import capture
from graphviz_autograd.model import Graph


def named(graph: Graph, name: str) -> torch.Tensor:
    (node,) = [n for n in graph.nodes if n.name == name]
    assert node.grad is not None and node.grad.values is not None
    return torch.tensor(node.grad.values)


def test_autograd_grad_is_recorded_with_the_gradients_it_returned() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, -1.0], requires_grad=True)
    with capture() as cap:
        (gx, gw) = torch.autograd.grad((w * x.exp()).sum(), (x for x in [x, w]))
    assert cap.count == 1 and x.grad is None  # grad() leaves .grad alone
    graph = cap.graph
    assert graph.node(graph.roots[0]).op == "SumBackward0"
    assert torch.allclose(named(graph, "x"), gx) and torch.allclose(named(graph, "w"), gw)


def test_create_graph_and_the_second_order_call_are_both_recorded() -> None:
    x = torch.tensor(3.0, requires_grad=True)
    with capture() as cap:
        (dy,) = torch.autograd.grad(x**3, x, create_graph=True)  # 3x^2 = 27
        (d2y,) = torch.autograd.grad(dy, x)  # 6x = 18
    assert cap.count == 2 and (dy.item(), d2y.item()) == (27.0, 18.0)
    first, second = (c.graph for c in cap.calls)
    assert named(first, "x").item() == 27.0 and named(second, "x").item() == 18.0
    assert first.node(first.roots[0]).op == "PowBackward0"
    # The second call walks the graph that create_graph made: the backward of PowBackward0.
    assert len(second) > len(first)


@pytest.mark.parametrize("call", ["first", "1"])
def test_the_graph_is_written_before_the_script_calls_os_exit(
    gradviz: Gradviz, tmp_path: Path, call: str
) -> None:
    (tmp_path / "s.py").write_text(
        "import os, torch\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "loss = (w * w).sum()\n"
        "loss.backward()\n"
        "os._exit(0)\n"
    )
    done = gradviz("run", "s.py", "-o", "g.json", "--call", call, cwd=tmp_path, process=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "g.json").read_text())
    (w,) = [n for n in doc["nodes"] if n["name"] == "w"]
    assert w["grad"]["values"] == [2.0, 4.0]


def test_a_backward_inside_a_helper_module_names_the_scripts_variables(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "helper.py").write_text("def step(loss):\n    loss.backward()\n")
    (tmp_path / "s.py").write_text(
        "import torch, helper\n"
        "weight = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "hidden = weight * 3\n"
        "helper.step(hidden.sum())\n"
    )
    done = gradviz("run", "s.py", "-o", "-", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = {n["name"] for n in json.loads(done.stdout)["nodes"]}
    assert {"weight", "hidden", "loss"} <= names
