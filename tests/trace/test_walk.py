"""build_graph on tiny real tensors, with torch as the oracle."""

from __future__ import annotations

import dataclasses
import gc
import math
import weakref
from collections import deque
from typing import Any

import pytest
import torch
from torch import nn

from graphviz_autograd import GradvizError, NoGraphError, build_graph
from graphviz_autograd.model import Graph, Node
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.json import to_json

HOSTILE = '<script>alert(1)</script>"];x->y;'


def edges(graph: Graph) -> list[tuple[str, str, int | None]]:
    return [(e.src, e.dst, e.slot) for e in graph.edges if e.kind == "data"]


def leaves(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.kind == "leaf"]


def torch_breadth_first(
    roots: list[torch.Tensor],
) -> tuple[list[str], list[tuple[str, str, int]]]:
    """The oracle: a breadth-first walk of torch's own graph, with a deque.

    Nodes are numbered as they are first found, the roots first; a leaf tensor and its
    ``AccumulateGrad`` are one node. Returns each node's op name (leaves as ``AccumulateGrad``)
    in number order, and the (src, dst, slot) edges by consumer, then slot, skipping ``None``
    slots.
    """
    number: dict[int, int] = {}
    ops: list[str] = []
    found: list[tuple[str, str, int]] = []
    keep: list[Any] = []
    queue: deque[Any] = deque()

    def meet(obj: Any) -> int:
        leaf = obj if isinstance(obj, torch.Tensor) else getattr(obj, "variable", None)
        key = id(leaf) if leaf is not None else id(obj)
        if key not in number:
            number[key] = len(ops)
            keep.append(obj)
            ops.append("AccumulateGrad" if leaf is not None else obj.name())
            if leaf is None:
                queue.append(obj)
        return number[key]

    for t in roots:
        meet(t if t.grad_fn is None else t.grad_fn)
    while queue:
        fn = queue.popleft()
        me = number[id(fn)]
        for slot, (child, _) in enumerate(fn.next_functions):
            if child is not None:
                found.append((f"n{meet(child)}", f"n{me}", slot))
    return ops, found


def mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model[2].bias.requires_grad_(False)
    x = torch.randn(5, 3)
    return model, x


# --------------------------------------------------------------------------- ids and order


def test_ids_follow_breadth_first_order_of_next_functions() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0], requires_grad=True)
    loss = (a * b).sum() + b.exp().sum()
    graph = build_graph(loss, params={"a": a, "b": b})
    assert [(n.id, n.op, n.name) for n in graph.nodes] == [
        ("n0", "AddBackward0", None),
        ("n1", "SumBackward0", None),
        ("n2", "SumBackward0", None),
        ("n3", "MulBackward0", None),
        ("n4", "ExpBackward0", None),
        ("n5", "AccumulateGrad", "a"),
        ("n6", "AccumulateGrad", "b"),
    ]
    assert edges(graph) == [
        ("n1", "n0", 0),
        ("n2", "n0", 1),
        ("n3", "n1", 0),
        ("n4", "n2", 0),
        ("n5", "n3", 0),
        ("n6", "n3", 1),
        ("n6", "n4", 0),
    ]
    assert graph.roots == ("n0",)


@pytest.mark.parametrize(
    "program",
    [
        lambda m, x: m(x).pow(2).mean(),
        lambda m, x: (m(x).softmax(-1) * m(x).sigmoid()).sum(),
        lambda m, x: m(x)[:, 0].sum() - m(x[:2]).norm(),
    ],
    ids=["mlp-mse", "two-forward-passes", "slice-and-norm"],
)
def test_matches_a_breadth_first_walk_of_torch_graph(program: Any) -> None:
    model, x = mlp()
    loss = program(model, x)
    graph = build_graph(loss)
    ops, found = torch_breadth_first([loss])
    assert [n.op for n in graph.nodes] == ops
    assert [n.id for n in graph.nodes] == [f"n{i}" for i in range(len(ops))]
    assert edges(graph) == found


# --------------------------------------------------------------------------- shared nodes


def test_x_plus_x_has_one_leaf_and_two_edges() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    graph = build_graph(x + x, params={"x": x})
    assert [(n.op, n.name) for n in graph.nodes] == [
        ("AddBackward0", None),
        ("AccumulateGrad", "x"),
    ]
    assert edges(graph) == [("n1", "n0", 0), ("n1", "n0", 1)]


def test_forty_doublings_give_41_nodes_not_2_to_the_40() -> None:
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(40):
        y = y + y
    graph = build_graph(y)
    assert len(graph.nodes) == 41
    assert len(graph.edges) == 80
    assert [n.op for n in graph.nodes] == ["AddBackward0"] * 40 + ["AccumulateGrad"]
    assert graph.nodes[-1].kind == "leaf"


# --------------------------------------------------------------------------- leaves


def test_leaf_is_one_node_with_its_facts() -> None:
    w = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    graph = build_graph(w.sum(), params={"weight": w})
    assert len(graph.nodes) == 2
    leaf = graph.node("n1")
    assert leaf == Node(
        id="n1",
        kind="leaf",
        op="AccumulateGrad",
        name="weight",
        is_leaf=True,
        requires_grad=True,
        shape=(2, 3),
        dtype="float64",
    )
    assert not any("AccumulateGrad" in (n.op or "") and n.kind != "leaf" for n in graph.nodes)


def test_leaves_are_exactly_the_parameters_that_require_grad() -> None:
    model, x = mlp()
    loss = model(x).pow(2).mean()
    graph = build_graph(loss, params=dict(model.named_parameters()))
    expected = {name for name, p in model.named_parameters() if p.requires_grad}
    assert len(expected) == len([p for p in model.parameters() if p.requires_grad]) == 3
    assert {n.name for n in leaves(graph)} == expected
    assert len(leaves(graph)) == len(expected)
    for node in leaves(graph):
        param = dict(model.named_parameters())[node.name]
        assert node.shape == tuple(param.shape)
        assert node.dtype == "float32"
        assert node.is_leaf and node.requires_grad


def test_unnamed_leaf_has_no_name() -> None:
    w = torch.ones(2, requires_grad=True)
    other = torch.ones(2, requires_grad=True)
    graph = build_graph((w * 2).sum(), params={"other": other})
    assert [n.name for n in leaves(graph)] == [None]


def test_the_first_name_given_for_a_tensor_wins_and_values_that_are_not_tensors_are_skipped() -> (
    None
):
    w = torch.ones(2, requires_grad=True)
    v = torch.ones(2, requires_grad=True)
    h = w * 3  # an intermediate tensor: its op takes the name
    params: dict[str, Any] = {"count": 7, "w": w, "v": v, "h": h, "w_again": w, "h_again": h}
    graph = build_graph((h + v).sum(), params=params)
    names = {node.op if node.kind == "op" else node.name for node in graph.nodes}
    assert {"w", "v"} <= names and "w_again" not in names
    assert [node.name for node in graph.nodes if node.op == "MulBackward0"] == ["h"]


# --------------------------------------------------------------------------- gradients


def test_leaf_gradients_after_backward_equal_torch() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1))
    loss = model(torch.randn(4, 10)).pow(2).mean()
    loss.backward()
    graph = build_graph(loss, params=dict(model.named_parameters()))
    by_name = {n.name: n for n in leaves(graph)}
    assert set(by_name) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, p in model.named_parameters():
        assert p.grad is not None
        stats = by_name[name].grad
        assert stats is not None
        assert stats.shape == tuple(p.grad.shape)
        assert stats.norm == pytest.approx(float(p.grad.norm()), rel=1e-5)
        assert stats.min == float(p.grad.min())
        assert stats.max == float(p.grad.max())
        assert stats.mean == pytest.approx(float(p.grad.mean()), rel=1e-5, abs=1e-9)
        assert (stats.nan, stats.inf) == (0, 0)
        if p.numel() <= 64:
            assert stats.values == tuple(p.grad.flatten().tolist())
        else:
            assert stats.values is None
    assert by_name["0.weight"].grad.values is None  # type: ignore[union-attr]  # 80 elements
    assert by_name["2.weight"].grad.values is not None  # type: ignore[union-attr]  # 8 elements


def test_nan_and_inf_in_a_gradient_are_counted() -> None:
    w = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    scale = torch.tensor([math.nan, math.inf, -math.inf, 2.0, -1.0])
    loss = (w * scale).sum()
    loss.backward()
    stats = leaves(build_graph(loss))[0].grad
    assert stats is not None
    assert (stats.nan, stats.inf) == (1, 2)
    finite = torch.tensor([2.0, -1.0])
    assert stats.norm == pytest.approx(float(finite.norm()))
    assert (stats.min, stats.max, stats.mean) == (-1.0, 2.0, 0.5)
    assert stats.values is not None
    assert math.isnan(stats.values[0])
    assert stats.values[1:] == (math.inf, -math.inf, 2.0, -1.0)


def test_retained_grad_of_an_output_is_recorded() -> None:
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    y = w * 3
    y.retain_grad()
    loss = y.pow(2).sum()
    loss.backward()
    graph = build_graph({"loss": loss, "y": y})
    node = graph.node(graph.roots[1])
    assert (node.name, node.op, node.retains_grad) == ("y", "MulBackward0", True)
    assert node.grad is not None and y.grad is not None
    assert node.grad.values == tuple(y.grad.tolist())


# --------------------------------------------------------------------------- ops


def test_op_names_and_output_shapes() -> None:
    w = torch.ones(2, 3, requires_grad=True)
    x = torch.ones(3)
    graph = build_graph((w @ x).relu().sum())
    assert [(n.kind, n.op, n.shape, n.dtype) for n in graph.nodes] == [
        ("op", "SumBackward0", (), "float32"),
        ("op", "ReluBackward0", (2,), "float32"),
        ("op", "MvBackward0", (2,), "float32"),
        ("leaf", "AccumulateGrad", (2, 3), "float32"),
    ]


def test_constant_inputs_leave_no_node_by_default() -> None:
    w = torch.ones(2, requires_grad=True)
    graph = build_graph(w * torch.ones(2))
    assert [n.kind for n in graph.nodes] == ["op", "leaf"]
    assert edges(graph) == [("n1", "n0", 0)]


# --------------------------------------------------------------------------- several outputs


def test_dict_keys_name_roots_in_order() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    aux = w.exp().mean()
    graph = build_graph({"loss": loss, "aux": aux}, params={"w": w})
    assert [graph.node(r).name for r in graph.roots] == ["loss", "aux"]
    assert [graph.node(r).op for r in graph.roots] == ["SumBackward0", "MeanBackward0"]
    assert graph.roots[0] == "n0"
    assert [n.name for n in leaves(graph)] == ["w"]  # shared by both roots, shown once


@pytest.mark.parametrize("container", [tuple, list], ids=["tuple", "list"])
def test_sequence_outputs_keep_their_order(container: type) -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    first, second = w.sum(), w.prod()
    graph = build_graph(container([second, first]))
    assert [graph.node(r).op for r in graph.roots] == ["ProdBackward0", "SumBackward0"]
    assert graph.roots[0] == "n0"
    assert len(leaves(graph)) == 1


def test_same_output_twice_is_one_root() -> None:
    w = torch.ones(2, requires_grad=True)
    loss = w.sum()
    assert build_graph([loss, loss]).roots == ("n0",)


def test_leaf_among_outputs_is_the_same_node_as_reached_through_ops() -> None:
    w = torch.ones(2, requires_grad=True)
    graph = build_graph((w.sum(), w))
    assert graph.roots == ("n0", "n1")
    assert graph.node("n1").kind == "leaf"
    assert len(graph.nodes) == 2


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "no output tensors"),
        ({}, "no output tensors"),
        (3.0, "got float"),
        ([torch.ones(1, requires_grad=True), "loss"], "is a str, not a tensor"),
        ({"loss": 1}, "output 'loss' is a int"),
    ],
    ids=["empty-list", "empty-dict", "float", "str-in-list", "int-in-dict"],
)
def test_outputs_that_are_not_tensors_are_rejected(outputs: Any, message: str) -> None:
    with pytest.raises(GradvizError, match=message):
        build_graph(outputs)


# --------------------------------------------------------------------------- no graph


def test_tensor_made_under_no_grad_has_no_graph() -> None:
    w = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = w * 2
    with pytest.raises(NoGraphError, match=r"no autograd graph.*torch\.no_grad\(\)"):
        build_graph(y)


def test_tensor_from_inputs_not_requiring_grad_has_no_graph() -> None:
    y = torch.ones(2) * 2
    with pytest.raises(NoGraphError, match="only from tensors that do not require grad"):
        build_graph(y)


def test_no_graph_error_names_the_dict_key() -> None:
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(NoGraphError, match="output 'metric'"):
        build_graph({"loss": w.sum(), "metric": torch.zeros(())})


def test_leaf_that_requires_grad_is_a_one_node_graph() -> None:
    w = torch.ones(3, requires_grad=True)
    graph = build_graph(w, params={"w": w})
    assert graph.nodes == (
        Node(
            id="n0",
            kind="leaf",
            op="AccumulateGrad",
            name="w",
            is_leaf=True,
            requires_grad=True,
            shape=(3,),
            dtype="float32",
        ),
    )
    assert graph.edges == ()
    assert graph.roots == ("n0",)


# --------------------------------------------------------------------------- before/after backward


def test_same_structure_before_and_after_backward_with_grads_after() -> None:
    model, x = mlp()
    loss = model(x).pow(2).mean()
    params = dict(model.named_parameters())
    before = build_graph(loss, params=params, show_attrs=True)
    loss.backward()
    after = build_graph(loss, params=params, show_attrs=True)
    assert all(n.grad is None for n in before.nodes)
    assert all(n.grad is not None for n in leaves(after))
    strip = [n._replace(grad=None) for n in after.nodes]
    assert strip == list(before.nodes)
    assert after.edges == before.edges


def test_saved_tensors_before_backward() -> None:
    a = torch.ones(2, 3, requires_grad=True)
    b = torch.ones(2, 3, dtype=torch.float32, requires_grad=True)
    graph = build_graph((a * b).sum(), show_saved=True)
    saved = [n for n in graph.nodes if n.kind == "saved"]
    assert sorted((n.name, n.shape, n.dtype, n.freed) for n in saved) == [
        ("other", (2, 3), "float32", False),
        ("self", (2, 3), "float32", False),
    ]
    mul = next(n for n in graph.nodes if n.op == "MulBackward0")
    saved_edges = [(e.src, e.dst, e.slot) for e in graph.edges if e.kind == "saved"]
    assert sorted(saved_edges) == sorted((n.id, mul.id, None) for n in saved)
    # Saved tensors are numbered after the autograd nodes, in the order of their owners.
    assert [n.id for n in saved] == ["n4", "n5"]


def test_saved_tensors_after_backward_show_as_freed() -> None:
    a = torch.ones(2, 3, requires_grad=True)
    b = torch.ones(2, 3, requires_grad=True)
    loss = (a * b).sum()
    loss.backward()
    graph = build_graph(loss, show_saved=True)
    saved = [n for n in graph.nodes if n.kind == "saved"]
    assert sorted(n.name for n in saved) == ["other", "self"]
    assert all(n.freed and n.shape is None and n.dtype is None for n in saved)


def test_without_show_saved_there_are_no_saved_nodes() -> None:
    a = torch.ones(2, requires_grad=True)
    graph = build_graph((a * a).sum())
    assert all(n.kind != "saved" for n in graph.nodes)
    assert all(e.kind == "data" for e in graph.edges)


@pytest.mark.parametrize("after_backward", [False, True], ids=["before", "after-backward"])
def test_show_attrs_lists_non_tensor_attributes(after_backward: bool) -> None:
    w = torch.ones(2, 3, requires_grad=True)
    loss = (w * 2).sum(dim=0).sum()
    if after_backward:
        loss.backward()
    graph = build_graph(loss, show_attrs=True)
    sum_dim = next(n for n in graph.nodes if n.op == "SumBackward1")
    attrs = dict(sum_dim.attrs)
    assert attrs["dim"] == "(0,)"
    assert attrs["keepdim"] == "False"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in sum_dim.attrs)
    assert dict(build_graph(loss).node(sum_dim.id).attrs) == {}


# --------------------------------------------------------------------------- hostile names, depth


def test_custom_function_class_name_is_kept_verbatim() -> None:
    hostile = type(
        HOSTILE,
        (torch.autograd.Function,),
        {
            "forward": staticmethod(lambda ctx, x: x * 2),
            "backward": staticmethod(lambda ctx, grad: grad * 2),
        },
    )
    w = torch.ones(2, requires_grad=True)
    loss = hostile.apply(w).sum()
    graph = build_graph(loss, show_saved=True, show_attrs=True)
    assert [n.op for n in graph.nodes] == ["SumBackward0", HOSTILE + "Backward", "AccumulateGrad"]
    loss.backward()
    assert w.grad is not None and w.grad.tolist() == [2.0, 2.0]
    assert build_graph(loss, show_saved=True).node("n1").op == HOSTILE + "Backward"


def test_a_100k_op_chain_walks_without_recursion() -> None:
    x = torch.zeros(1, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1
    graph = build_graph(y)
    assert len(graph.nodes) == 100_001
    assert len(graph.edges) == 100_000
    assert graph.nodes[-1].kind == "leaf"
    assert graph.edges[-1] == graph.inputs("n99999")[0]


# --------------------------------------------------------------------------- no tensors kept


def _plain_values(value: Any, path: str = "graph") -> list[str]:
    """Paths of everything in ``value`` that is not plain data (str, number, bool, None)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return []
    if isinstance(value, (tuple, list)):
        return [p for i, v in enumerate(value) for p in _plain_values(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [
            p for k, v in value.items() for p in _plain_values(k, path) + _plain_values(v, path)
        ]
    if isinstance(value, Graph):
        return [
            p
            for name in value.__match_args__
            for p in _plain_values(getattr(value, name), f"{path}.{name}")
        ]
    if dataclasses.is_dataclass(value):
        return [
            p
            for f in dataclasses.fields(value)
            for p in _plain_values(getattr(value, f.name), f"{path}.{f.name}")
        ]
    return [f"{path}: {type(value).__module__}.{type(value).__qualname__}"]


def test_graph_holds_only_plain_data() -> None:
    model, x = mlp()
    loss = model(x).pow(2).mean()
    loss.backward()
    graph = build_graph(
        {"loss": loss}, params=dict(model.named_parameters()), show_saved=True, show_attrs=True
    )
    assert any(n.grad is not None for n in graph.nodes)
    assert any(n.attrs for n in graph.nodes)
    assert _plain_values(graph) == []
    # The checker itself notices a tensor.
    assert _plain_values(graph.replace(roots=(torch.ones(1),))) != []


def test_graph_does_not_keep_tensors_alive() -> None:
    def build() -> tuple[Graph, list[weakref.ref[torch.Tensor]]]:
        model, x = mlp()
        loss = model(x).pow(2).mean()
        graph = build_graph(loss, params=dict(model.named_parameters()), show_saved=True)
        loss.backward()
        refs = [weakref.ref(p) for p in model.parameters()] + [weakref.ref(loss)]
        return graph, refs

    graph, refs = build()
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert len(leaves(graph)) == 3  # the graph is still whole


# --------------------------------------------------------------------------- determinism


def _program() -> Graph:
    model, x = mlp()
    loss = model(x).tanh().pow(2).mean()
    loss.backward()
    return build_graph(
        {"loss": loss}, params=dict(model.named_parameters()), show_saved=True, show_attrs=True
    )


def test_two_builds_of_one_program_render_identically() -> None:
    first, second = _program(), _program()
    assert first == second
    assert to_dot(first) == to_dot(second)
    assert to_json(first) == to_json(second)


def test_a_graph_not_yet_read_holds_only_plain_data() -> None:
    """A walked graph makes its records when first read; until then what it keeps for that
    (its columns) must hold no tensor and no autograd node either."""
    model, x = mlp()
    loss = model(x).pow(2).mean()
    graph = build_graph(loss, params=dict(model.named_parameters()), show_saved=True)
    columns = graph._columns
    assert columns is not None
    assert _plain_values(list(columns), "columns") == []
    assert len(leaves(graph)) == 3 and graph._columns is None  # read once, then dropped


# --------------------------------------------------------------------------- op shapes


def test_op_shapes_are_read_up_to_a_size_then_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphviz_autograd.trace import walker

    x = torch.ones(3, requires_grad=True)
    y = x
    for _ in range(6):
        y = y * 2.0
    small = build_graph(y)
    assert {n.shape for n in small.nodes if n.kind == "op"} == {(3,)}
    assert small.notes == ()

    monkeypatch.setattr(walker, "OP_SHAPES_UP_TO", 5)
    big = build_graph(y)
    ops = [n for n in big.nodes if n.kind == "op"]
    assert len(ops) == 6 and {(n.shape, n.dtype) for n in ops} == {(None, None)}
    assert [n.shape for n in big.nodes if n.kind == "leaf"] == [(3,)]  # leaves keep theirs
    assert big.notes == (
        "op output shapes not read: more than 5 nodes (op_shapes=True, or --op-shapes, reads them)",
    )
    forced = build_graph(y, op_shapes=True)
    assert forced.nodes == small.nodes and forced.notes == ()
    off = build_graph(y, op_shapes=False)
    assert {n.shape for n in off.nodes if n.kind == "op"} == {None} and off.notes == ()


def test_each_op_gets_its_own_output_shape_and_dtype() -> None:
    """Ops of one name share a description only when shape and dtype agree too; an op with
    several forward outputs has no single shape. Torch's own tensors are the oracle."""
    x = torch.ones(4, 3, requires_grad=True)
    wide = x * 2.0  # MulBackward0, (4, 3)
    narrow = wide.sum(0) * 3.0  # MulBackward0, (3,)
    half = narrow.double() * 1.5  # MulBackward0, (3,) float64
    first, _second = x.split(2)  # SplitBackward0: two outputs
    loss = half.sum() + first.sum()
    graph = build_graph(loss)
    muls = sorted(repr((n.shape, n.dtype)) for n in graph.nodes if n.op == "MulBackward0")
    assert muls == sorted(
        repr((tuple(t.shape), str(t.dtype).removeprefix("torch."))) for t in (wide, narrow, half)
    )
    [split] = [n for n in graph.nodes if n.op == "SplitBackward0"]
    assert first.grad_fn.name() == "SplitBackward0"  # the premise: one op, two outputs
    assert (split.shape, split.dtype) == (None, None)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.nested is a prototype
@pytest.mark.parametrize("layout", [torch.strided, torch.jagged], ids=["strided", "jagged"])
def test_nested_tensors_have_no_shape_but_the_rest_of_their_facts(layout: torch.layout) -> None:
    """A nested tensor's components differ in shape: its node has none (a strided one has no
    ``.shape`` at all, a jagged one a symbolic size), and its gradient is summarised over the
    values of all components. Torch's own gradient is the oracle."""
    parts = [torch.arange(6.0).reshape(2, 3), torch.arange(12.0).reshape(4, 3)]
    nt = torch.nested.nested_tensor(parts, layout=layout, requires_grad=True)
    y = nt * 2.0
    loss = (y.values() if layout == torch.jagged else y.to_padded_tensor(0.0)).pow(2).sum()
    loss.backward(retain_graph=True)
    graph = build_graph(loss, params={"nt": nt}, show_saved=True)
    [leaf] = leaves(graph)
    assert (leaf.name, leaf.shape, leaf.dtype) == ("nt", None, "float32")
    [mul] = [n for n in graph.nodes if n.op == "MulBackward0"]
    assert mul.shape is None
    grad = torch.cat([g.reshape(-1) for g in nt.grad.unbind()])
    assert leaf.grad is not None and leaf.grad.shape is None
    assert leaf.grad.norm == pytest.approx(float(grad.norm()))
    assert leaf.grad.values == tuple(grad.tolist())
    assert '"shape": null' in to_json(graph) and "nt\\n? float32" in to_dot(graph)


# --------------------------------------------------------------------------- rows and records


@pytest.mark.parametrize(
    "options",
    [{}, {"show_saved": True, "show_attrs": True}, {"show_inputs": True}, {"op_shapes": False}],
    ids=["default", "saved", "inputs", "no-shapes"],
)
def test_dot_from_a_graph_never_read_equals_dot_from_its_records(options: Any) -> None:
    """`to_dot` reads a walked graph's rows without making records; what it writes must be
    what it writes from the records. A second walk gives the records to compare with."""
    model, x = mlp()
    loss = model(x).pow(2).mean()
    outputs = {"loss": loss, "aux": model[0].weight.sum()}
    params = dict(model.named_parameters())
    unread = build_graph(outputs, params=params, **options)
    records = build_graph(outputs, params=params, **options)
    records.nodes  # noqa: B018  (make them)
    assert unread._columns is not None and records._columns is None
    assert to_dot(unread) == to_dot(records)
    assert unread._columns is not None  # still never read
    assert to_json(unread) == to_json(records) and unread == records


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.masked is a prototype
def test_a_leaf_gradient_that_cannot_be_read_is_noted_not_raised() -> None:
    from torch.masked import masked_tensor

    mt = masked_tensor(
        torch.arange(4.0), torch.tensor([True, False, True, True]), requires_grad=True
    )
    loss = (mt * 2.0).sum()
    loss.backward(retain_graph=True)
    assert mt.grad is not None  # the premise: torch has a gradient we cannot read
    graph = build_graph(loss, params={"mt": mt})
    [leaf] = leaves(graph)
    assert (leaf.name, leaf.grad) == ("mt", None)
    assert graph.notes == (
        "the gradient of 1 node could not be summarised and show no values (MaskedTensor: "
        ".tolist() is not supported for tensor subclasses, got MaskedTensor)",
    )


def test_a_tensor_named_twice_in_params_takes_its_first_name() -> None:
    w = torch.ones(2, requires_grad=True)
    v = torch.ones(2, requires_grad=True)
    graph = build_graph((w * v).sum(), params={"first": w, "other": v, "second": w})
    names = {node.name for node in graph.nodes if node.kind == "leaf"}
    assert names == {"first", "other"}
    # Tied weights listed under both names (remove_duplicate=False): the first module's name.
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    model[1].weight = model[0].weight
    params = dict(model.named_parameters(remove_duplicate=False))
    graph = build_graph(model(torch.ones(1, 2)).sum(), params=params)
    leaves = sorted(node.name for node in graph.nodes if node.kind == "leaf")
    assert leaves == ["0.bias", "0.weight", "1.bias"]
