"""The rich tree: exact text from a plain 60-column Console."""

from __future__ import annotations

import math
import re

import pytest
import torch
from rich.console import Console

from graphviz_autograd.api import print_tree
from graphviz_autograd.model import Edge, Graph, Node, TensorStats
from graphviz_autograd.renderers.tree import print_graph_tree


@pytest.fixture
def console() -> Console:
    return Console(width=60, color_system=None, record=False)


def printed(console: Console, graph: Graph, *, legend: bool = True) -> str:
    console.begin_capture()
    print_graph_tree(graph, console=console, legend=legend)
    return console.end_capture()


def shared_leaf() -> Graph:
    """loss = mul(x + x, c) + x with c needing no grad, after backward (mul's self freed)."""
    x_grad = TensorStats((2,), math.sqrt(5), -1.0, 2.0, 0.5, 0, 0, (2.0, -1.0))
    return Graph(
        nodes=(
            Node("n0", "op", op="AddBackward0", name="loss", shape=(), dtype="float32"),
            Node("n1", "op", op="MulBackward0", shape=(2,), dtype="float32"),
            Node("n2", "saved", name="self", requires_grad=False, freed=True),
            Node("n3", "op", op="AddBackward0", shape=(2,), dtype="float32"),
            Node("n4", "leaf", op="AccumulateGrad", name="[bold red]x[/]", is_leaf=True,
                 shape=(2,), dtype="float32", grad=x_grad),
            Node("n5", "input", requires_grad=False),
        ),
        edges=(
            Edge("n1", "n0", 0),
            Edge("n2", "n1", None, "saved"),
            Edge("n3", "n1", 0),
            Edge("n4", "n3", 0),
            Edge("n4", "n3", 1),
            Edge("n5", "n1", 1),
            Edge("n4", "n0", 1),
        ),
        roots=("n0",),
    )  # fmt: skip


def two_roots() -> Graph:
    nan_grad = TensorStats((2,), None, None, None, None, 1, 1, (math.nan, math.inf))
    return Graph(
        nodes=(
            Node("n0", "op", op="MeanBackward0", name="loss", shape=(), dtype="float32"),
            Node("n1", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(2,),
                 dtype="float32", grad=nan_grad),
            Node("n2", "op", op="ExpBackward0", name="aux", shape=(2,), dtype="float32"),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n1", "n2", 0)),
        roots=("n0", "n2"),
    )  # fmt: skip


def test_tree_with_shared_leaf_exact(console: Console) -> None:
    assert printed(console, shared_leaf()) == (
        "■ loss = AddBackward0  () float32  n0\n"
        "├── ■ MulBackward0  (2,) float32  n1\n"
        "│   ├── ■ saved self  freed by backward  n2\n"
        "│   ├── ■ AddBackward0  (2,) float32  n3\n"
        "│   │   └── ■ [bold red]x[/]  (2,) float32  grad ‖·‖=2.236 \n"
        "│   │       [-1, 2]  n4  ×2\n"
        "│   └── ■ input (no grad)  n5\n"
        "└── ↑ n4 [bold red]x[/]\n"
        "■ output (a root the walk started from)   ■ leaf that \n"
        "requires grad (gets .grad)   ■ input that needs no grad   ■ \n"
        "op (backward function)   ■ tensor saved for backward\n"
    )


def test_two_roots_exact(console: Console) -> None:
    assert printed(console, two_roots(), legend=False) == (
        "■ loss = MeanBackward0  () float32  n0\n"
        "└── ■ w  (2,) float32  grad: 1 NaN 1 Inf  n1\n"
        "■ aux = ExpBackward0  (2,) float32  n2\n"
        "└── ↑ n1 w\n"
    )


def test_notes_print_after_the_tree(console: Console) -> None:
    graph = two_roots().replace(notes=("folded 9 nodes; pass --max-nodes 0 to draw every node",))
    assert printed(console, graph, legend=False).endswith(
        "└── ↑ n1 w\nfolded 9 nodes; pass --max-nodes 0 to draw every node\n"
    )


def test_markup_in_names_prints_literally(console: Console) -> None:
    out = printed(console, shared_leaf(), legend=False)
    assert out.count("[bold red]x[/]") == 2
    assert "[/]" in out


def test_forty_doublings_print_each_node_once() -> None:
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(40):
        y = y + y
    # Wide enough that rich does not run out of room for 41 levels of nesting.
    wide = Console(width=250, color_system=None, record=False)
    wide.begin_capture()
    print_tree(y, console=wide)
    out = wide.end_capture()
    lines = out.splitlines()
    assert len(lines) <= 45
    ids = re.findall(r"\bn(\d+)\b", out)
    assert sorted(map(int, ids)) == list(range(41))  # every node, each once
    assert sum("×2" in line for line in lines) == 40
    assert "↑" not in out


def chain_graph(ops: int) -> Graph:
    """loss <- op ... <- op <- x: ``ops`` ops in a line, then a leaf."""
    op = Node("n0", "op", op="MulBackward0", shape=(3,), dtype="float32")
    nodes = [op._replace(id=f"n{i}") for i in range(ops)]
    leaf = Node("", "leaf", op="AccumulateGrad", name="x", is_leaf=True, shape=(3,))
    nodes.append(leaf._replace(id=f"n{ops}", dtype="float32"))
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(ops)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


def test_a_tree_deeper_than_the_console_continues_below(console: Console) -> None:
    # 60 columns keep 40 for text: 5 levels of 4 columns of guides.
    assert printed(console, chain_graph(8), legend=False) == (
        "■ MulBackward0  (3,) float32  n0\n"
        "└── ■ MulBackward0  (3,) float32  n1\n"
        "    └── ■ MulBackward0  (3,) float32  n2\n"
        "        └── ■ MulBackward0  (3,) float32  n3\n"
        "            └── ■ MulBackward0  (3,) float32  n4\n"
        "                └── ■ MulBackward0  (3,) float32  n5  ↓\n"
        "↓ n5 MulBackward0, continued\n"
        "└── ■ MulBackward0  (3,) float32  n6\n"
        "    └── ■ MulBackward0  (3,) float32  n7\n"
        "        └── ■ x  (3,) float32  n8\n"
    )


def test_deep_model_tree_fits_the_console_and_shows_each_node_once() -> None:
    """A 300-op chain in module groups, in 80 columns: no line wraps, every node is printed
    once, and each continued node starts a tree of its own, in the order they were cut."""
    from graphviz_autograd import build_graph
    from graphviz_autograd.trace.modules import tag_modules

    model = torch.nn.Sequential(*(torch.nn.Tanh() for _ in range(300)))
    x = torch.ones(3, requires_grad=True)
    with tag_modules():
        y = model(x).sum()
    graph = build_graph(y, params={"x": x}, modules=True)
    narrow = Console(width=80, color_system=None, record=False)
    narrow.begin_capture()
    print_graph_tree(graph, console=narrow, legend=False)
    lines = narrow.end_capture().splitlines()
    assert "▣ model.299" in lines[1] and sum("▣ model." in line for line in lines) == 300
    assert max(map(len, lines)) <= 80
    assert all(re.search(r"\bn\d+\b", line) for line in lines if "■ " in line)  # none wrapped
    printed_ids = [re.findall(r"\b(n\d+)\b", line)[-1] for line in lines if "■ " in line]
    assert sorted(printed_ids) == sorted(n.id for n in graph.nodes)  # each once
    cut = [re.findall(r"\b(n\d+)\b", line)[-1] for line in lines if line.endswith("↓")]
    starts = [line.split()[1] for line in lines if line.startswith("↓ ")]
    assert len(cut) > 10 and starts == cut


def test_print_tree_uses_default_console(capsys: pytest.CaptureFixture[str]) -> None:
    print_graph_tree(two_roots(), legend=False)
    out = capsys.readouterr().out
    assert "loss = MeanBackward0" in out and "↑ n1 w" in out
