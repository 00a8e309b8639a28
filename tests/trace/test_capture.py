"""capture(): every backward call in a block, with the gradients right after each."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from graphviz_autograd import BackwardCall, GradvizError, capture
from graphviz_autograd.model import Graph, Node


def leaf(graph: Graph, name: str | None) -> Node:
    return next(n for n in graph.nodes if n.kind == "leaf" and n.name == name)


def root_op(call: BackwardCall) -> str | None:
    return call.graph.node(call.graph.roots[0]).op


def test_records_tensor_backward_and_autograd_backward() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with capture(params={"w": w}) as cap:
        (w * 3).sum().backward()
        torch.autograd.backward((w * w).mean())
        (w.exp()).backward(gradient=torch.tensor([1.0, 0.5]))
        torch.autograd.backward([w * 2], grad_tensors=[torch.ones(2)])
    assert cap.count == 4
    assert [c.number for c in cap.calls] == [1, 2, 3, 4]
    assert [root_op(c) for c in cap.calls] == [
        "SumBackward0",
        "MeanBackward0",
        "ExpBackward0",
        "MulBackward0",
    ]
    assert all(c.error is None for c in cap.calls)
    assert cap.graph == cap.calls[-1].graph


def test_grads_are_those_after_each_call() -> None:
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    x = torch.tensor([3.0, 0.5])
    seen: list[list[float]] = []
    with capture(params={"w": w}) as cap:
        for _ in range(3):  # no zero_grad: g, 2g, 3g
            (w * x).sum().backward()
            assert w.grad is not None
            seen.append(w.grad.tolist())
    g = x.tolist()
    assert seen == [g, [2 * v for v in g], [3 * v for v in g]]
    recorded = [leaf(c.graph, "w").grad for c in cap.calls]
    assert [s.values for s in recorded if s is not None] == [tuple(v) for v in seen]
    assert recorded[2] is not None
    assert recorded[2].norm == pytest.approx(float(torch.tensor(seen[2]).norm()))


def test_graph_is_walked_before_the_engine_runs() -> None:
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    with capture(show_saved=True) as cap:
        (a * b).sum().backward()
    saved = [n for n in cap.graph.nodes if n.kind == "saved"]
    assert sorted(n.name for n in saved) == ["other", "self"]
    assert all(not n.freed and n.shape == (2,) for n in saved)


@pytest.mark.parametrize(
    ("keep", "numbers"),
    [("all", [1, 2, 3, 4]), ("first", [1]), ("last", [4]), (2, [2]), (9, [])],
    ids=["all", "first", "last", "second", "past-the-end"],
)
def test_keep(keep: object, numbers: list[int]) -> None:
    w = torch.ones(1, requires_grad=True)
    with capture(keep=keep) as cap:  # type: ignore[arg-type]
        for i in range(4):
            (w * (i + 1)).sum().backward()
    assert cap.count == 4
    assert [c.number for c in cap.calls] == numbers
    for call in cap.calls:  # each kept call carries the gradient after that call
        grad = call.graph.nodes[-1].grad
        assert grad is not None
        assert grad.values == (sum(range(1, call.number + 1)),)


@pytest.mark.parametrize("keep", [0, -1], ids=["zero", "negative"])
def test_keep_must_be_a_positive_call_number(keep: int) -> None:
    with pytest.raises(GradvizError, match="start at 1"), capture(keep=keep):
        pass


def test_no_calls_recorded() -> None:
    with capture() as cap:
        pass
    assert (cap.count, cap.calls) == (0, [])
    with pytest.raises(GradvizError, match="no backward call"):
        cap.graph  # noqa: B018


def test_patch_is_removed_after_the_block() -> None:
    original = torch.autograd.backward
    with capture() as cap:
        assert torch.autograd.backward is not original
    assert torch.autograd.backward is original
    w = torch.ones(1, requires_grad=True)
    (w * 2).sum().backward()
    assert cap.count == 0


def test_patch_is_removed_when_the_block_raises() -> None:
    original = torch.autograd.backward
    w = torch.ones(1, requires_grad=True)
    with pytest.raises(KeyError, match="boom"), capture() as cap:
        (w * 2).sum().backward()
        raise KeyError("boom")
    assert torch.autograd.backward is original
    assert cap.count == 1 and len(cap.calls) == 1


def test_backward_that_raises_is_recorded_and_propagates() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with capture() as cap:
        loss = (w * w).sum()
        loss.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
            (w * 2).backward()
    assert cap.count == 3
    first, second, third = cap.calls
    assert first.error is None
    assert second.error is not None
    assert second.error.startswith("RuntimeError: Trying to backward through the graph")
    assert "\n" not in second.error
    assert root_op(second) == "SumBackward0"
    assert leaf(second.graph, "w").grad is not None
    assert third.error is not None and "implicitly created" in third.error
    assert root_op(third) == "MulBackward0"


def test_backward_without_a_graph_lets_torch_raise() -> None:
    with capture() as cap:
        with pytest.raises(RuntimeError, match="does not require grad"):
            torch.ones(2).sum().backward()
    assert cap.count == 1
    assert cap.calls == []


def test_nothing_is_kept_alive_after_the_block() -> None:
    def train() -> tuple[object, list[weakref.ref[torch.Tensor]]]:
        model = torch.nn.Linear(3, 2)
        x = torch.randn(4, 3)
        with capture(params=dict(model.named_parameters()), show_saved=True) as cap:
            for _ in range(2):
                loss = model(x).pow(2).mean()
                loss.backward()
        refs = [weakref.ref(p) for p in model.parameters()] + [weakref.ref(loss), weakref.ref(x)]
        return cap, refs

    cap, refs = train()
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)
    assert len(cap.calls) == 2  # type: ignore[attr-defined]


def test_leaf_names_come_from_params() -> None:
    model = torch.nn.Linear(2, 1)
    with capture(params=dict(model.named_parameters())) as cap:
        model(torch.ones(1, 2)).sum().backward()
    names = sorted(n.name for n in cap.graph.nodes if n.kind == "leaf")  # type: ignore[type-var]
    assert names == ["bias", "weight"]
    assert model.weight.grad is not None
    assert leaf(cap.graph, "weight").grad.values == tuple(model.weight.grad.flatten().tolist())  # type: ignore[union-attr]


def _names(graph: Graph) -> dict[str, str | None]:
    return {n.id: n.name for n in graph.nodes}


def test_auto_names_from_the_calling_frame_and_module_paths() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    x = torch.ones(4, 2)
    with capture() as cap:
        hidden = model[1](model[0](x))
        loss = model[2](hidden).sum()
        loss.backward()
    names = {n.name for n in cap.graph.nodes}
    expected = {f"model.{p}" for p, _ in model.named_parameters()}
    assert expected <= names
    assert {"loss", "hidden"} <= names
    leaves = {n.name for n in cap.graph.nodes if n.kind == "leaf"}
    assert leaves == expected  # torch's own list of parameters is the oracle


def test_explicit_params_win_and_auto_names_can_be_off() -> None:
    w = torch.ones(2, requires_grad=True)
    with capture(params={"weight": w}) as cap:
        (w * 3).sum().backward()
    assert "weight" in _names(cap.graph).values()
    assert "w" not in _names(cap.graph).values()
    with capture(auto_names=False) as cap:
        (w * 3).sum().backward()
    assert set(_names(cap.graph).values()) == {None}


def test_params_may_be_a_function_called_at_each_backward() -> None:
    w = torch.ones(2, requires_grad=True)
    calls: list[int] = []

    def names() -> dict[str, torch.Tensor]:
        calls.append(1)
        return {"late": w}

    with capture(params=names, auto_names=False) as cap:
        (w * 3).sum().backward()
        (w * 4).sum().backward()
    assert len(calls) == 2
    assert all("late" in _names(c.graph).values() for c in cap.calls)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch.masked is a prototype
def test_gradients_that_cannot_be_read_fail_neither_backward_nor_the_graph() -> None:
    """A MaskedTensor gradient has no values to read (``tolist`` refuses tensor subclasses):
    the backward still runs (torch fills ``.grad``), and the graph says what it could not show."""
    from torch.masked import masked_tensor

    mt = masked_tensor(
        torch.arange(4.0), torch.tensor([True, False, True, True]), requires_grad=True
    )
    with capture(params={"mt": mt}) as cap:
        (mt * 2.0).sum().backward()
    assert mt.grad is not None  # the call ran to the end
    [call] = cap.calls
    assert call.error is None
    assert [n.order is not None for n in call.graph.nodes if n.kind == "op"] == [True] * 5
    assert all(n.grad is None for n in call.graph.nodes)
    [note] = call.graph.notes
    assert note.startswith(
        "the gradients of 6 nodes could not be summarised and show no values (MaskedTensor: "
    )
