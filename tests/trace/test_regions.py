"""A compiled region opens into the backward graph AOTAutograd built for it (`trace.regions`,
`trace.opened`): its aten ops in a box of its own, the parameters each gradient goes to, the
activations the forward saved, the gradient flowing in; or the node says why it cannot.

The ``aot_eager`` backend runs AOTAutograd without inductor's C++ build; the inductor runs are
in test_compile.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from graphviz_autograd import build_graph, capture
from graphviz_autograd.model import REGION_MARK, Graph, Node
from graphviz_autograd.renderers.json import from_json, to_json
from graphviz_autograd.renderers.mermaid import to_mermaid
from graphviz_autograd.trace.opened import open_regions
from graphviz_autograd.trace.regions import Region

# Dynamo reads .grad of a non-leaf tensor it is handed (after a graph break, say), under a
# filter that hides torch's warning; pytest's "error" filter comes first.
RESUMES = pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor:UserWarning")


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> Iterator[None]:
    """Each test compiles from nothing, and leaves no compiled code to later tests (a shape
    seen twice would make their compiles dynamic)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def in_region(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.module and REGION_MARK in n.module]


def check_consistent(graph: Graph) -> None:
    ids = [n.id for n in graph.nodes]
    assert len(set(ids)) == len(ids)
    assert {e.src for e in graph.edges} | {e.dst for e in graph.edges} <= set(ids)


def test_a_compiled_module_opens_into_its_backward_graph() -> None:
    model = mlp()
    x = torch.randn(5, 4)
    with capture(modules=True) as cap:
        fast = torch.compile(model, backend="aot_eager")
        fast(x).pow(2).mean().backward()
    graph = cap.graph
    check_consistent(graph)
    (head,) = [n for n in graph.nodes if n.op == "CompiledFunctionBackward"]
    assert head.module is not None and head.module.endswith("[compiled]")
    assert head.grad is not None  # the gradient flowing in from outside
    ops = {n.op for n in in_region(graph) if n.kind == "op"}
    assert {"mm", "threshold_backward", "sum"} <= ops
    # Each parameter's edge goes into the op that computes its gradient, not the region's node.
    params = {n.id: n for n in graph.nodes if n.kind == "leaf"}
    into = {params[e.src].name: graph.node(e.dst) for e in graph.edges if e.src in params}
    assert set(into) == {"model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"}
    assert all(node.module and REGION_MARK in node.module for node in into.values())
    assert into["model.2.weight"].grad is None  # drawn, not hooked: the eager leaf has it
    weight_edge = next(e for e in graph.edges if e.src in params and e.kind == "data")
    assert weight_edge.grad is not None  # what flowed to the parameter
    # The saved activations, named by the forward op that made them, with their bytes.
    saved = {n.name: n for n in in_region(graph) if n.kind == "saved"}
    assert saved["relu"].shape == (5, 8) and saved["relu"].dtype == "float32"
    held = {t.name: t.bytes for n in in_region(graph) for t in n.saved}
    assert held["relu"] == 5 * 8 * 4
    assert held["model.2.weight"] == 8 * 4  # a saved input is its eager node
    # Ops sit in the boxes of the modules that made them, inside the region's box.
    assert {n.module for n in in_region(graph) if n.op == "threshold_backward"} == {
        f"{head.module}.1"
    }


@RESUMES
def test_a_graph_break_makes_two_regions_named_by_the_function() -> None:
    model = mlp()

    def broken(x: torch.Tensor) -> torch.Tensor:
        y = model(x)
        torch._dynamo.graph_break()
        return y.tanh() * 2

    with capture() as cap:
        fast = torch.compile(broken, backend="aot_eager")
        fast(torch.randn(3, 4)).sum().backward()
    graph = cap.graph
    check_consistent(graph)
    heads = sorted(n.module or "" for n in graph.nodes if n.op == "CompiledFunctionBackward")
    assert heads == ["[compiled broken 1]", "[compiled broken 2]"]
    second = [n.op for n in graph.nodes if n.module == "[compiled broken 2]" and n.kind == "op"]
    assert "tanh_backward" in second
    # The first region's node feeds the second region's op that computes its gradient.
    first = next(n for n in graph.nodes if n.module == "[compiled broken 1]" and n.op)
    assert first.op == "CompiledFunctionBackward"
    (edge,) = [e for e in graph.edges if e.src == first.id and e.kind == "data"]
    assert graph.node(edge.dst).module == "[compiled broken 2]"


def test_a_region_compiled_outside_capture_opens_too() -> None:
    fast = torch.compile(mlp(), backend="aot_eager")
    graph = build_graph(fast(torch.randn(2, 4)).sum())
    check_consistent(graph)
    assert {n.module for n in graph.nodes if n.op == "CompiledFunctionBackward"} == {"[compiled]"}
    assert "threshold_backward" in {n.op for n in graph.nodes}


class CompiledFunction(torch.autograd.Function):
    """Named like AOTAutograd's, without its backward graph."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad * 2


def test_a_region_without_its_graph_says_why() -> None:
    w = torch.ones(3, requires_grad=True)
    graph = build_graph(CompiledFunction.apply(w).sum())
    (node,) = [n for n in graph.nodes if n.op == "CompiledFunctionBackward"]
    assert node.name == "not opened: AOTAutograd kept no backward graph for it"
    assert node.module is None
    assert any("not opened" in note for note in graph.notes)


def test_every_format_carries_the_region() -> None:
    fast = torch.compile(mlp(), backend="aot_eager")
    graph = build_graph(fast(torch.randn(2, 4)).sum())
    again = from_json(to_json(graph))
    assert [n.module for n in again.nodes] == [n.module for n in graph.nodes]
    assert "[compiled]" in to_mermaid(graph)


def test_a_region_with_dynamic_shapes_opens() -> None:
    """A second batch size makes Dynamo compile again with a symbolic batch: the region then
    takes a SymInt among its inputs, with a gradient (None) in its backward graph's outputs
    but no slot in its node's ``next_functions``."""
    fast = torch.compile(mlp(), backend="aot_eager")
    fast(torch.randn(5, 4))
    graph = build_graph(fast(torch.randn(2, 4)).sum())
    check_consistent(graph)
    assert "not opened" not in str(graph.notes)
    params = {n.id for n in graph.nodes if n.kind == "leaf"}
    assert all(
        graph.node(e.dst).op != "CompiledFunctionBackward" for e in graph.edges if e.src in params
    )


@pytest.mark.slow
@RESUMES
def test_a_compiled_transformers_model_opens() -> None:
    """GPT-2 from a config (2 layers, random weights): a graph break before the loss makes two
    regions; the parameters of each block feed the ops that compute their gradients, in the
    boxes of the modules that made them."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=16, bos_token_id=0
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    ids = torch.randint(0, 100, (2, 8))
    with capture(modules=True) as cap:
        fast = torch.compile(model, backend="aot_eager")
        fast(input_ids=ids, labels=ids).loss.backward()
    graph = cap.graph
    check_consistent(graph)
    assert not [note for note in graph.notes if "not opened" in note]
    heads = [n for n in graph.nodes if n.op == "CompiledFunctionBackward"]
    assert heads and all(n.module and REGION_MARK in n.module for n in heads)
    boxes = {n.module for n in in_region(graph) if n.op in ("mm", "bmm", "addmm")}
    assert any(box and box.endswith("transformer.h.1.attn.c_attn") for box in boxes)
    leaves = {n.id: n.name or "" for n in graph.nodes if n.kind == "leaf"}
    fed = {leaves[e.src] for e in graph.edges if e.src in leaves}
    assert any(name.endswith("h.0.mlp.c_fc.weight") for name in fed)
    into = [graph.node(e.dst) for e in graph.edges if e.src in leaves]
    assert all(node.module and REGION_MARK in node.module for node in into)


def test_a_failure_to_open_leaves_the_graph_as_it_was() -> None:
    """Whatever goes wrong while opening, the graph is the eager one, with a note: a drawing
    aid never breaks the user's backward call."""
    w = torch.ones(3, requires_grad=True)
    graph = build_graph((w * 2).sum())
    region = Region(values=(), outputs=(), label="", order=0, traced=True)
    opened = open_regions(graph, {len(graph) + 5: region})  # a node the graph does not have
    assert opened.nodes == graph.nodes and opened.edges == graph.edges
    assert opened.notes[-1].startswith("compiled regions not opened: gradviz failed (IndexError")


def test_with_show_saved_the_region_holds_what_its_node_saved() -> None:
    """The walk draws what the region's node saved (``saved_tensors[k]``); opened, those are
    the region's saved activations, named, and inputs it has a node for already are not drawn
    twice; each byte counts once."""
    fast = torch.compile(mlp(), backend="aot_eager")
    graph = build_graph(fast(torch.randn(5, 4)).sum(), show_saved=True)
    check_consistent(graph)
    names = [n.name for n in graph.nodes if n.kind == "saved"]
    assert sorted(names) == ["input 3", "relu"]
    (head,) = [n for n in graph.nodes if n.op == "CompiledFunctionBackward"]
    assert head.saved == ()
    held = sum(t.bytes or 0 for n in graph.nodes for t in n.saved)
    assert held == graph.saved_bytes == (5 * 4 + 1 * 8 + 5 * 8) * 4  # x, model.2.weight, relu


@RESUMES
def test_a_compiled_function_names_its_own_regions_only() -> None:
    """A region made before (here, by a model compiled outside the capture) is not the
    function's, though it lies behind the function's output."""
    early = torch.compile(mlp(), backend="aot_eager")
    y = early(torch.randn(2, 4))

    def late_fn(y: torch.Tensor) -> torch.Tensor:
        return y.tanh()

    with capture() as cap:
        late = torch.compile(late_fn, backend="aot_eager")
        late(y).sum().backward()
    heads = sorted(n.module or "" for n in cap.graph.nodes if n.op == "CompiledFunctionBackward")
    assert heads == ["[compiled late_fn]", "[compiled]"]


def test_the_doctor_names_the_compiled_region_a_nan_came_from() -> None:
    """The region's ops did not run on their own: the region's node passed the NaN on. (The
    compiled forward runs unwatched: its NaN is not seen.)"""
    model = mlp()
    with torch.no_grad():
        model[2].bias.fill_(-5.0)  # every output negative: its sqrt is NaN

    def head(x: torch.Tensor) -> torch.Tensor:
        return model(x).sqrt()

    with capture(diagnose=True) as cap:
        fast = torch.compile(head, backend="aot_eager")
        fast(torch.randn(5, 4)).sum().backward()
    (finding,) = cap.findings
    assert finding.code == "nonfinite-grad"
    assert "CompiledFunctionBackward ([compiled head]) passed a non-finite gradient" in (
        finding.message
    )
