"""Source lines and saved-tensor memory: what each node can tell about where it came from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from graphviz_autograd import build_graph, capture, to_dot, to_json
from graphviz_autograd.model import Graph, Node
from graphviz_autograd.renderers.tree import print_graph_tree
from graphviz_autograd.trace.naming import caller_names

HERE = str(Path(__file__).resolve())


def op(graph: Graph, name: str) -> Node:
    return next(n for n in graph.nodes if n.op == name)


def line_of(text: str) -> int:
    return next(i for i, line in enumerate(Path(HERE).read_text().splitlines(), 1) if text in line)


def test_capture_records_the_forward_line_of_each_op() -> None:
    w = torch.ones(3, requires_grad=True)
    with capture(source=True) as cap:
        y = (w * 2).sin()  # the-sin-line
        y.sum().backward()
    sin = op(cap.graph, "SinBackward0")
    assert sin.source is not None
    assert Path(sin.source.file).resolve() == Path(HERE)
    assert sin.source.line == line_of("# the-sin-line")
    assert sin.source.code.startswith("y = (w * 2).sin()")
    doc = json.loads(to_json(cap.graph))
    jsin = next(n for n in doc["nodes"] if n["op"] == "SinBackward0")
    assert jsin["source"] == {
        "file": sin.source.file,
        "line": sin.source.line,
        "code": sin.source.code,
    }
    assert "the-sin-line" in to_dot(cap.graph)  # in the tooltip
    assert not torch.is_anomaly_enabled()  # no anomaly mode needed
    assert torch._C._len_torch_function_stack() == 0  # and nothing left behind


def test_ops_inside_a_composite_op_get_the_line_that_called_it() -> None:
    logits = torch.randn(4, 3, requires_grad=True)
    target = torch.tensor([0, 2, 1, 0])
    with capture(source=True) as cap:
        loss = torch.nn.functional.cross_entropy(logits, target)  # the-loss-line
        loss.backward()
    ops = [n for n in cap.graph.nodes if n.kind == "op"]
    assert {n.op for n in ops} >= {"NllLossBackward0", "LogSoftmaxBackward0"}
    assert {n.source.line if n.source else None for n in ops} == {line_of("# the-loss-line")}


def test_module_ops_point_at_the_users_call_not_into_torch() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    with capture(source=True) as cap:
        out = model(torch.ones(1, 2))  # the-model-line
        out.sum().backward()
    relu = op(cap.graph, "ReluBackward0")
    assert relu.source is not None and relu.source.line == line_of("# the-model-line")


def test_sources_stop_after_the_kept_call() -> None:
    w = torch.ones(2, requires_grad=True)
    with capture(source=True, keep="first") as cap:
        (w * 2).sum().backward()
        later = w * 3  # nothing later is kept: no tagging later
        later.sum().backward()
    assert len(cap.calls) == 1
    assert op(cap.graph, "MulBackward0").source is not None
    assert op(build_graph(later, source=True), "MulBackward0").source is None
    assert torch._C._len_torch_function_stack() == 0


def test_source_tagger_leaves_the_users_own_mode_in_place() -> None:
    class Counting(torch.overrides.TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return func(*args, **(kwargs or {}))

    w = torch.ones(2, requires_grad=True)
    with capture(source=True) as cap:
        with Counting():
            y = (w * 2).sum()
        y.backward()
    assert Counting.calls >= 2
    # the innermost frame outside torch is the user's own mode, as with anomaly mode
    assert op(cap.graph, "MulBackward0").source.file == HERE  # type: ignore[union-attr]
    assert torch._C._len_torch_function_stack() == 0


def test_build_graph_reads_sources_only_when_asked_and_recorded() -> None:
    w = torch.ones(2, requires_grad=True)
    plain = (w * 2).sum()
    assert op(build_graph(plain, source=True), "MulBackward0").source is None
    with torch.autograd.set_detect_anomaly(True, check_nan=False):
        traced = (w * 2).sum()
    assert op(build_graph(traced), "MulBackward0").source is None
    assert op(build_graph(traced, source=True), "MulBackward0").source is not None  # anomaly


def test_saved_tensors_with_bytes_and_a_total_that_counts_shared_storage_once() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    x = torch.randn(16, 8)
    loss = model(x).pow(2).mean()
    g = build_graph(loss, show_saved=True)
    relu = op(g, "ReluBackward0")
    (result,) = relu.saved
    assert (result.name, result.shape, result.dtype, result.freed) == (
        "result",
        (16, 32),
        "float32",
        False,
    )
    assert result.bytes == 16 * 32 * 4
    per_node = sum(t.bytes or 0 for n in g.nodes for t in n.saved)
    # the ReLU output is saved by ReLU and again (as mat1) by the next Linear: counted once
    assert g.saved_bytes is not None and g.saved_bytes == per_node - 16 * 32 * 4
    doc = json.loads(to_json(g))
    assert doc["saved_bytes"] == g.saved_bytes
    jrelu = next(n for n in doc["nodes"] if n["op"] == "ReluBackward0")
    assert jrelu["saved"] == [
        {"name": "result", "shape": [16, 32], "dtype": "float32", "bytes": 2048, "freed": False}
    ]
    loss.backward()
    after = build_graph(loss, show_saved=True)
    assert all(t.freed and t.bytes is None for n in after.nodes for t in n.saved)
    assert after.saved_bytes == 0


def test_tree_ends_with_the_ops_that_save_the_most() -> None:
    a = torch.randn(64, 64, requires_grad=True)
    loss = (a.exp() * 3).sum()
    g = build_graph(loss, show_saved=True)
    console = Console(width=100, color_system=None)
    console.begin_capture()
    print_graph_tree(g, console=console, legend=False)
    text = console.end_capture()
    tail = text.split("saved for backward: ")[1]
    assert tail.startswith("16.0 KiB")  # exp's result; the multiply saves a number
    assert "ExpBackward0" in tail


def test_capture_with_modules_groups_ops_by_module() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    model.add_module('<b>"x"</b>', torch.nn.Tanh())  # a hostile name stays inert text
    with capture(modules=True) as cap:
        loss = model(torch.ones(2, 3)).sum()
        loss.backward()
    g = cap.graph
    assert op(g, "ReluBackward0").module == "model.1"
    assert op(g, "TanhBackward0").module == 'model.<b>"x"</b>'
    assert by_kind_name(g, "model.0.weight").module == "model.0"  # leaves join their module
    assert op(g, "SumBackward0").module is None  # made outside any module
    dot = to_dot(g)
    assert 'subgraph cluster_m0 { label="model"' in dot
    assert 'label="<b>\\"x\\"</b>" tooltip="model.<b>\\"x\\"</b>"' in dot  # inside "model"
    assert dot.count("subgraph cluster_") == 5  # model and its four children
    doc = json.loads(to_json(g))
    assert {n.get("module") for n in doc["nodes"]} >= {"model.0", "model.1", "model.2"}


def by_kind_name(graph: Graph, name: str) -> Node:
    return next(n for n in graph.nodes if n.name == name)


def test_depth_collapses_each_deeper_module_into_one_node() -> None:
    from graphviz_autograd.transform.collapse import collapse_modules

    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    with capture(modules=True) as cap:
        loss = encoder(torch.randn(2, 3, 16)).pow(2).mean()
        loss.backward()
    full = cap.graph
    small = collapse_modules(full, 2)
    modules = [n for n in small.nodes if n.op == "module"]
    assert sorted(n.name for n in modules) == ["encoder.layers.0", "encoder.layers.1"]
    inside = {
        m.name: sum(1 for n in full.nodes if n.module and n.module.startswith(f"{m.name}"))
        for m in modules
    }
    assert all(m.count == inside[m.name] for m in modules)  # every node inside is counted
    ids = {n.id for n in small.nodes}
    assert all(e.src in ids and e.dst in ids for e in small.edges)
    assert small.roots == full.roots
    assert "deeper than 2 levels" in small.notes[-1]
    layer1 = next(m for m in modules if m.name == "encoder.layers.1")
    assert any(
        e.dst == layer1.id for e in small.edges if small.node(e.src).name == "encoder.layers.0"
    )


def test_depth_collapses_each_call_of_a_reused_module_apart_without_a_cycle() -> None:
    from graphviz_autograd.transform.collapse import collapse_modules

    class Twice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh())
            self.middle = torch.nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.block(self.middle(self.block(x)))
            return out

    model = Twice()
    with capture(modules=True) as cap:
        model(torch.randn(2, 3)).sum().backward()
    small = collapse_modules(cap.graph, 1)
    assert sorted(n.name for n in small.nodes if n.op == "module") == [
        "model.block",
        "model.block@2",
        "model.middle",
    ]
    # one node per call: block -> middle -> block@2, where one node for both calls of block
    # would feed middle and be fed by it, an edge drawn upward
    order = {n.id: i for i, n in enumerate(_topological(small))}
    assert all(order[e.src] < order[e.dst] for e in small.edges)


def _topological(graph: Graph) -> list[Node]:
    """The nodes of an acyclic graph, every source before its destinations (raises on a cycle)."""
    indegree = {n.id: 0 for n in graph.nodes}
    for e in graph.edges:
        indegree[e.dst] += 1
    ready = [n for n in graph.nodes if indegree[n.id] == 0]
    out: list[Node] = []
    while ready:
        node = ready.pop()
        out.append(node)
        for e in graph.outputs(node.id):
            indegree[e.dst] -= 1
            if indegree[e.dst] == 0:
                ready.append(graph.node(e.dst))
    assert len(out) == len(graph.nodes), "the graph has a cycle"
    return out


def test_tree_groups_ops_under_their_module() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    with capture(modules=True) as cap:
        model(torch.ones(2, 3)).sum().backward()
    console = Console(width=120, color_system=None)
    console.begin_capture()
    print_graph_tree(cap.graph, console=console, legend=False)
    lines = console.end_capture().splitlines()
    headers = [i for i, line in enumerate(lines) if "▣ " in line]
    assert [lines[i].split("▣ ")[1] for i in headers] == ["model.2", "model.1", "model.0"]
    relu = next(i for i, line in enumerate(lines) if "ReluBackward0" in line)
    assert relu == headers[1] + 1  # right under its module's header
    indent = lines[relu].index("■")
    assert indent > lines[headers[1]].index("▣")  # nested one level below the header


def names_seen_from(filename: str) -> dict[str, torch.Tensor]:
    """`caller_names()` called by a function whose code says it lives in ``filename``."""
    namespace: dict[str, Any] = {"torch": torch, "caller_names": caller_names}
    code = "def f():\n    inner = torch.ones(1)\n    return caller_names()\n"
    exec(compile(code, filename, "exec"), namespace)
    names: dict[str, torch.Tensor] = namespace["f"]()
    return names


def test_caller_names_skips_frames_in_torch_but_not_in_a_sibling_like_torchvision() -> None:
    torch_dir = str(Path(torch.__file__).parent)
    assert "inner" in names_seen_from(f"{torch_dir}vision{os.sep}x.py")
    assert "inner" not in names_seen_from(f"{torch_dir}{os.sep}x.py")


def test_a_compiled_function_runs_under_source_lines() -> None:
    torch._dynamo.reset()

    @torch.compile(backend="eager")
    def f(x: torch.Tensor) -> torch.Tensor:
        return (x * 2).sin()

    w = torch.ones(3, requires_grad=True)
    with capture(source=True) as cap:
        y = f(w).sum()  # the-compiled-line
        y.backward()
    assert torch.allclose(w.grad, 2 * torch.cos(2 * torch.ones(3)))  # type: ignore[arg-type]
    total = op(cap.graph, "SumBackward0")
    assert total.source is not None and total.source.line == line_of("# the-compiled-line")
