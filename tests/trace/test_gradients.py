"""The gradient at every node and the execution order, recorded during a captured backward.

Torch is the oracle: a node's gradient equals what `retain_grad()` (or `torch.autograd.grad`)
gives for the tensor that node produced.
"""

from __future__ import annotations

import json

import pytest
import torch

from graphviz_autograd import capture, to_dot, to_json
from graphviz_autograd.model import Graph, Node
from graphviz_autograd.renderers.style import GRAD_RAMP, NONFINITE
from graphviz_autograd.renderers.tree import to_tree


def by_name(graph: Graph, name: str) -> Node:
    return next(n for n in graph.nodes if n.name == name)


def test_op_gradients_equal_retain_grad() -> None:
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = torch.tensor([0.5, 0.25, 2.0])
    with capture() as cap:
        h = w * x
        h.retain_grad()
        z = h.tanh()
        z.retain_grad()
        loss = (z * z).sum()
        loss.backward()
    g = cap.graph
    for name, tensor in (("h", h), ("z", z)):
        node = by_name(g, name)
        assert tensor.grad is not None
        assert node.grad is not None and node.grad.values is not None
        expected = tensor.grad.double().flatten()
        assert torch.allclose(torch.tensor(node.grad.values, dtype=torch.float64), expected)
    assert by_name(g, "loss").grad is not None and by_name(g, "loss").grad.values == (1.0,)
    # a leaf keeps its accumulated .grad
    leaf = by_name(g, "w")
    assert leaf.grad is not None and leaf.grad.values is not None
    assert torch.allclose(torch.tensor(leaf.grad.values, dtype=torch.float32), w.grad)


def test_large_gradients_are_summarised_not_listed() -> None:
    w = torch.randn(10, 10, requires_grad=True)
    with capture() as cap:
        y = w.exp()
        (y * 2).sum().backward()
    node = by_name(cap.graph, "y")
    y2 = w.exp()
    (expected,) = torch.autograd.grad((y2 * 2).sum(), y2)
    assert node.grad is not None and node.grad.values is None
    assert node.grad.norm == pytest.approx(float(expected.norm()))  # 2 everywhere: norm 20
    assert node.grad.norm == pytest.approx(20.0)


def test_several_outputs_get_one_gradient_each() -> None:
    w = torch.arange(4.0, requires_grad=True)
    with capture() as cap:
        a, b = w.chunk(2)
        (a * 3 + b * 5).sum().backward()
    node = next(n for n in cap.graph.nodes if n.op and n.op.startswith("SplitBackward"))
    assert node.grads is not None and len(node.grads) == 2
    assert [g.values for g in node.grads if g is not None] == [(3.0, 3.0), (5.0, 5.0)]
    doc = json.loads(to_json(cap.graph))
    jnode = next(n for n in doc["nodes"] if n["id"] == node.id)
    assert [g["values"] for g in jnode["grads"]] == [[3.0, 3.0], [5.0, 5.0]]


def test_order_is_the_engines_and_null_where_it_did_not_run() -> None:
    w = torch.ones(2, requires_grad=True)
    v = torch.ones(2, requires_grad=True)
    with capture() as cap:
        loss = (w * 2).sum() + (v * 3).sum()
        loss.backward(inputs=[w])  # the v branch is not needed, so it does not run
    g = cap.graph
    assert by_name(g, "loss").order == 1
    assert by_name(g, "w").order is not None
    assert by_name(g, "v").order is None
    orders = sorted(n.order for n in g.nodes if n.order is not None)
    assert orders == list(range(1, len(orders) + 1))
    # every node runs after the node that consumes it (reverse topological order)
    for edge in g.edges:
        src, dst = g.node(edge.src), g.node(edge.dst)
        if src.order is not None:
            assert dst.order is not None and dst.order < src.order
    assert '"order": 1' in to_json(g)
    assert "#1 loss" in to_dot(g, show_order=True) and "#1 loss" not in to_dot(g)


def test_hooks_are_removed_and_user_hooks_keep_working() -> None:
    w = torch.ones(3, requires_grad=True)
    seen: list[torch.Tensor] = []
    with capture() as cap:
        y = w * 2
        y.register_hook(lambda g: seen.append(g.clone()))
        y.grad_fn.register_hook(lambda gi, go: seen.append(go[0].clone()))
        y.sum().backward(retain_graph=True)
    assert len(seen) == 2
    assert by_name(cap.graph, "y").order is not None
    # outside the block, a second backward through the same graph fires only the user's hooks
    w.grad = None
    y.sum().backward()
    assert len(seen) == 4
    assert w.grad is not None and torch.equal(w.grad, torch.full((3,), 2.0))


def test_first_nonfinite_in_backward_order_is_flagged() -> None:
    u = torch.tensor([0.0, 4.0], requires_grad=True)
    with capture() as cap:
        r = u.sqrt()  # d sqrt / du is inf at 0
        loss = (r * 1.0).sum()
        loss.backward()
    g = cap.graph
    bad = g.first_nonfinite
    assert bad is not None
    flagged = g.node(bad)
    assert flagged.grad is not None and (flagged.grad.nan or flagged.grad.inf)
    earlier = [
        n
        for n in g.nodes
        if n.order is not None and flagged.order is not None and n.order < flagged.order
    ]
    assert all(n.grad is None or not (n.grad.nan or n.grad.inf) for n in earlier)
    dot = to_dot(g)
    assert "first NaN/Inf in backward" in dot and "penwidth=3" in dot
    assert json.loads(to_json(g))["first_nonfinite"] == bad
    assert "first NaN/Inf" in str(to_tree(g).label) or any(
        "first NaN/Inf" in str(c.label) for c in _walk_tree(to_tree(g))
    )


def _walk_tree(tree):  # type: ignore[no-untyped-def]
    stack = [tree]
    while stack:
        t = stack.pop()
        yield t
        stack.extend(t.children)


def test_ops_are_shaded_by_gradient_norm_on_a_log_scale() -> None:
    w = torch.ones(1, requires_grad=True)
    with capture() as cap:
        a = w * 1e-6
        b = a * 1e6
        c = b * 1e3
        c.sum().backward()
    dot = to_dot(cap.graph)
    # gradient norms at a, b, c: 1e9, 1e3, 1 -> the ends of the ramp and one between
    line = {n: next(x for x in dot.splitlines() if x.startswith(f"  {by_name(cap.graph, n).id} "))
            for n in ("a", "b", "c")}  # fmt: skip
    assert f'fillcolor="{GRAD_RAMP[-1]}"' in line["a"]
    assert f'fillcolor="{GRAD_RAMP[0]}"' in line["c"]
    assert "gradient norm (log scale)" in dot
    assert NONFINITE not in dot


def test_a_gradient_summed_in_place_is_summarised_again_not_taken_from_before() -> None:
    """A tensor the hooks saw is summarised once per call; but the engine adds a second
    consumer's gradient into the first one's tensor in place, and what the node gets then is
    the sum (torch's `retain_grad` is the oracle), while each edge keeps what flowed along it."""
    a = torch.randn(100, requires_grad=True)
    with capture() as cap:
        y = a * 2
        y.retain_grad()
        loss = (y * 3).sum() + (y * 5).sum()
        loss.backward()
    g = cap.graph
    node = by_name(g, "y")
    assert node.grad is not None and y.grad is not None
    assert node.grad.norm == pytest.approx(float(y.grad.norm()))  # 8 everywhere: 80
    assert node.grad.norm == pytest.approx(80.0)
    flows = sorted(e.grad.norm for e in g.edges if e.src == node.id and e.grad is not None)
    assert flows == [pytest.approx(30.0), pytest.approx(50.0)]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The shape of each tensor gradviz reads the values of (`stats.summarize`), in turn."""
    from graphviz_autograd.trace import stats

    shapes: list[tuple[int, ...]] = []
    summarize = stats.summarize

    def counted(tensor: torch.Tensor) -> object:
        shapes.append(tuple(tensor.shape))
        return summarize(tensor)

    monkeypatch.setattr(stats, "summarize", counted)
    return shapes


def test_a_view_of_a_gradient_takes_its_summary_with_its_own_shape_not_read_again(
    reads: list[tuple[int, ...]],
) -> None:
    """The engine hands on a view at every transpose and reshape (half the values a ViT's hooks
    see): one read serves both, each with its own shape; torch's `retain_grad` is the oracle."""
    torch.manual_seed(0)
    x = torch.randn(32, 40, requires_grad=True)
    c = torch.randn(40, 32)
    with capture() as cap:
        y = x * 2
        y.retain_grad()
        z = y.t()
        z.retain_grad()
        (z * c).sum().backward()
    g = cap.graph
    for name, tensor in (("y", y), ("z", z)):
        node = by_name(g, name)
        assert tensor.grad is not None and node.grad is not None
        assert node.grad.shape == tuple(tensor.grad.shape)
        expected = tensor.grad.double()
        assert node.grad.norm == pytest.approx(float(expected.norm()), rel=1e-6)
        assert node.grad.mean == pytest.approx(float(expected.mean()), rel=1e-6)
        assert (node.grad.min, node.grad.max) == (float(expected.min()), float(expected.max()))
    # z's gradient (40, 32) and the transpose TBackward hands y (32, 40) are one read; the
    # other (32, 40) reads are y's Mul passing 2 * that to x, and x.grad after the call
    assert reads.count((40, 32)) == 2 and reads.count((32, 40)) == 2, reads


def test_a_parameter_gradient_is_read_once_a_call_and_again_when_it_accumulates(
    reads: list[tuple[int, ...]],
) -> None:
    """After ``zero_grad()`` torch hands the gradient a parameter's AccumulateGrad node gets on
    as its ``.grad`` when its layout is the parameter's (a convolution's weight; a linear
    layer's arrives transposed and is copied): the hooks' read of it is its summary after the
    call too. Added into (a second backward without ``zero_grad()``), the ``.grad`` is read
    anew; ``.grad`` is the oracle either way."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3)
    x = torch.randn(2, 3, 10, 10)
    with capture() as cap:
        for _ in range(2):  # no zero_grad(): the second call adds into the first's .grad
            conv(x).pow(2).sum().backward()
    first, second = (by_name(call.graph, "conv.weight") for call in cap.calls)
    assert conv.weight.grad is not None and first.grad is not None and second.grad is not None
    assert second.grad.norm == pytest.approx(float(conv.weight.grad.double().norm()), rel=1e-6)
    assert first.grad.norm == pytest.approx(second.grad.norm / 2, rel=1e-6)
    # the weight's gradient: once in the first call; in the second, the part handed to its
    # AccumulateGrad and the sum in .grad after
    assert reads.count((8, 3, 3, 3)) == 3, reads


def test_a_gradient_changed_by_a_hook_after_accumulation_is_read_as_it_ends() -> None:
    """A post-accumulate-grad hook may change ``.grad`` behind its version (``.data``): the
    ``.grad`` after the call is read then, not taken from what AccumulateGrad was handed."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3)

    def halve(param: torch.Tensor) -> None:
        assert param.grad is not None
        param.grad.data.mul_(0.5)

    conv.weight.register_post_accumulate_grad_hook(halve)
    with capture() as cap:
        conv(torch.randn(2, 3, 10, 10)).pow(2).sum().backward()
    node = by_name(cap.graph, "conv.weight")
    assert conv.weight.grad is not None and node.grad is not None
    assert node.grad.norm == pytest.approx(float(conv.weight.grad.double().norm()), rel=1e-6)
