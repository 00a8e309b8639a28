"""Module tagging: each autograd node records the innermost ``nn.Module`` whose forward made it."""

from __future__ import annotations

import gc
import threading
import weakref
from collections import Counter
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_impl

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.trace.module_names import module_paths
from graphviz_autograd.trace.modules import (
    METADATA_KEY,
    ModuleTagger,
    module_of,
    tag_modules,
)

ACC = "torch::autograd::AccumulateGrad"


def all_nodes(tensor: torch.Tensor) -> list[Any]:
    """Every node reachable from ``tensor.grad_fn``, each once."""
    seen: dict[int, Any] = {}
    todo = [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        todo.extend(next_node for next_node, _ in node.next_functions)
    return list(seen.values())


def tagged(tensor: torch.Tensor) -> Counter[tuple[str, str | None]]:
    """``(node name, module path)`` for every op node reachable from ``tensor``."""
    return Counter((n.name(), module_of(n)) for n in all_nodes(tensor) if n.name() != ACC)


def hook_counts() -> tuple[int, int, int]:
    return (
        len(module_impl._global_forward_pre_hooks),
        len(module_impl._global_forward_hooks),
        torch._C._len_torch_function_stack(),
    )


class Square(torch.autograd.Function):
    """A custom Function: its node is not made by a torch call the mode sees."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        out: torch.Tensor = 2 * x * grad
        return out


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear1 = nn.Linear(width, width)
        self.act = nn.Tanh()
        self.linear2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear2(self.act(self.linear1(x))) + x  # Block's own add
        return out


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.head = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 2  # Net's own op, before any child runs
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = self.head(x)
        return out


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


# --- tags -------------------------------------------------------------------------------------


def test_sequential_mlp_tags_each_layer_and_not_the_loss() -> None:
    model = mlp()
    x = torch.randn(3, 4)
    with tag_modules():
        out = model(x)
        loss = out.pow(2).mean()
    assert tagged(loss) == Counter(
        {
            ("MeanBackward0", None): 1,
            ("PowBackward0", None): 1,
            ("AddmmBackward0", "model.2"): 1,
            ("TBackward0", "model.2"): 1,
            ("ReluBackward0", "model.1"): 1,
            ("AddmmBackward0", "model.0"): 1,
            ("TBackward0", "model.0"): 1,
        }
    )
    assert METADATA_KEY not in loss.grad_fn.metadata
    leaves = [n for n in all_nodes(loss) if n.name() == ACC]
    assert len(leaves) == 4 and all(module_of(n) is None for n in leaves)
    assert module_of(None) is None


def test_tagging_changes_neither_values_nor_gradients() -> None:
    model = mlp()
    x = torch.randn(3, 4)
    plain = model(x).pow(2).mean()
    plain.backward()
    expected = [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]
    model.zero_grad()
    with tag_modules():
        loss = model(x).pow(2).mean()
    loss.backward()
    assert torch.equal(loss, plain)
    for param, grad in zip(model.parameters(), expected, strict=True):
        assert torch.equal(param.grad, grad)  # type: ignore[arg-type]


@pytest.mark.parametrize("watch_ops", [True, False])
def test_nested_blocks_innermost_module_wins(watch_ops: bool) -> None:
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(3, 4, requires_grad=True)
    with tag_modules(watch_ops=watch_ops):
        loss = net(x).sum()
    expected: Counter[tuple[str, str | None]] = Counter(
        {("MulBackward0", "net"): 1, ("SumBackward0", None): 1}
    )
    for path in ("net.blocks.0", "net.blocks.1"):
        expected[("AddBackward0", path)] += 1  # Block's own residual add
        expected[("TanhBackward0", f"{path}.act")] += 1
        for linear in ("linear1", "linear2"):
            expected[("AddmmBackward0", f"{path}.{linear}")] += 1
            expected[("TBackward0", f"{path}.{linear}")] += 1
    expected[("AddmmBackward0", "net.head")] += 1
    expected[("TBackward0", "net.head")] += 1
    assert tagged(loss) == expected


class Head(nn.Module):
    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        y = Square.apply(x)  # type: ignore[no-untyped-call]  # not seen by the mode
        y = y.clone()
        y[0] = 0.0  # in place through __setitem__, which returns None
        return F.cross_entropy(y, target)  # composite: two nodes in one call


@pytest.mark.parametrize("watch_ops", [True, False])
def test_custom_function_in_place_and_composite_ops_inside_a_module(watch_ops: bool) -> None:
    head = Head()
    x = torch.randn(3, 5, requires_grad=True)
    with tag_modules(watch_ops=watch_ops):
        loss = head(x, torch.tensor([0, 1, 2]))
    names = tagged(loss)
    assert set(names) == {
        ("SquareBackward", "head"),
        ("CloneBackward0", "head"),
        ("torch::autograd::CopySlices", "head"),
        ("LogSoftmaxBackward0", "head"),
        ("NllLossBackward0", "head"),
    }, names


class AuxLoss(nn.Module):
    """Keeps a tensor on ``self`` that its output does not lead back to."""

    def __init__(self) -> None:
        super().__init__()
        self.aux: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.aux = (x * x).sum()
        return x + 1


@pytest.mark.parametrize(("watch_ops", "expected"), [(True, "aux"), (False, None)])
def test_only_the_mode_sees_nodes_no_module_output_leads_to(
    watch_ops: bool, expected: str | None
) -> None:
    aux = AuxLoss()
    with tag_modules(watch_ops=watch_ops):
        out = aux(torch.randn(2, requires_grad=True))
    assert module_of(out.grad_fn) == "aux"
    assert aux.aux is not None and module_of(aux.aux.grad_fn) == expected


def test_a_module_called_twice_and_one_created_inside_the_block() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shared = nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.shared(self.shared(x).relu())
            return out

    model = Shared()
    x = torch.randn(1, 2)
    with tag_modules():
        out = model(x)
        late = nn.Linear(2, 2)  # bound after the block began: found when first met
        out_late = late(x)
        anonymous = [nn.Linear(2, 2), nn.Linear(2, 2)]  # in no variable
        out_anon = [anonymous[0](x), anonymous[1](x), anonymous[0](x)]
    assert tagged(out) == Counter(
        {
            ("AddmmBackward0", "model.shared"): 1,  # each call is told apart
            ("TBackward0", "model.shared"): 1,
            ("AddmmBackward0", "model.shared@2"): 1,
            ("TBackward0", "model.shared@2"): 1,
            ("ReluBackward0", "model"): 1,
        }
    )
    assert module_of(out_late.grad_fn) == "late"
    assert [module_of(t.grad_fn) for t in out_anon] == ["Linear#1", "Linear#2", "Linear#1"]


class TwiceRelu(nn.Module):
    """A block that applies its one ``relu`` module twice, as a ResNet basic block does."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.linear(self.relu(x)) + x)
        return out


def test_each_call_of_a_reused_module_is_named_apart_and_calls_nest() -> None:
    model = nn.Sequential(TwiceRelu(), TwiceRelu())
    twice = TwiceRelu()
    x = torch.randn(2, 3, requires_grad=True)  # so that the first relu makes a node
    with tag_modules():
        out = model(x)
        out2 = twice(twice(x))  # outermost calls: each is a forward of its own
        out3 = model(x)  # the next step: the same names as the first
    assert tagged(out) == Counter(
        {
            ("ReluBackward0", "model.0.relu"): 1,
            ("ReluBackward0", "model.0.relu@2"): 1,
            ("AddBackward0", "model.0"): 1,
            ("AddmmBackward0", "model.0.linear"): 1,
            ("TBackward0", "model.0.linear"): 1,
            ("ReluBackward0", "model.1.relu"): 1,
            ("ReluBackward0", "model.1.relu@2"): 1,
            ("AddBackward0", "model.1"): 1,
            ("AddmmBackward0", "model.1.linear"): 1,
            ("TBackward0", "model.1.linear"): 1,
        }
    )
    assert tagged(out3) == tagged(out)
    assert Counter(module for _, module in tagged(out2).elements()) == Counter(
        {"twice.relu": 2, "twice.relu@2": 2, "twice": 2, "twice.linear": 4}
    )


def test_modules_called_inside_a_repeated_call_are_named_inside_it() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = Block(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.block(self.block(x))
            return out

    model = Twice()
    with tag_modules():
        out = model(torch.randn(2, 3))
    modules = {module for _, module in tagged(out)}
    assert modules == {
        "model.block",
        "model.block.linear1",
        "model.block.act",
        "model.block.linear2",
        "model.block@2",
        "model.block@2.linear1",
        "model.block@2.act",
        "model.block@2.linear2",
    }


def test_a_child_outside_the_namespace_is_named_from_its_parent() -> None:
    net = Net()
    with tag_modules({}):  # nothing named: the root is anonymous, children follow it
        out = net(torch.randn(1, 4))
    assert module_of(out.grad_fn) == "Net#1.head"
    with tag_modules({"net": net}):
        out = net(torch.randn(1, 4))
    assert module_of(out.grad_fn) == "net.head"
    with tag_modules(lambda: {"later": net}):
        out = net(torch.randn(1, 4))
    assert module_of(out.grad_fn) == "later.head"


def test_module_paths_prefers_the_outermost_variable() -> None:
    net = Net()
    encoder = net.blocks[1]
    namespace = {"encoder": encoder, "net": net, "_hidden": nn.Linear(1, 1), "n": 3}
    paths = module_paths(namespace)
    assert paths[id(net)] == "net"
    assert paths[id(encoder)] == "net.blocks.1"
    assert paths[id(net.blocks[1].linear1)] == "net.blocks.1.linear1"
    assert paths[id(net.head)] == "net.head"
    assert sorted(paths.values()) == sorted(name for name, _ in net.named_modules(prefix="net"))
    assert module_paths({"encoder": encoder})[id(encoder.act)] == "encoder.act"


# --- lifetime and cleanup -----------------------------------------------------------------------


def test_hooks_and_mode_are_removed_after_the_block() -> None:
    model = mlp()
    x = torch.randn(3, 4)
    before = hook_counts()
    with tag_modules() as tagger:
        assert tagger.active
        pre, post, modes = hook_counts()
        assert (pre, post) == (before[0] + 1, before[1] + 1)
        assert modes == before[2]  # the mode is pushed only while a forward runs
        inside = model(x)
        assert hook_counts()[2] == before[2]
    assert not tagger.active
    assert hook_counts() == before
    outside = model(x)
    assert module_of(inside.grad_fn) == "model.2"
    assert all(module_of(n) is None for n in all_nodes(outside))


class Faulty(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inner(x)
        raise ValueError("boom")


class Guarded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.faulty = Faulty()
        self.out = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            self.faulty(x)
        except ValueError:
            pass
        out: torch.Tensor = self.out(x) * 3  # Guarded's own op, after a child failed
        return out


def test_a_forward_that_raises_leaves_no_stale_stack() -> None:
    model = Guarded()
    x = torch.randn(2, 4, requires_grad=True)
    before = hook_counts()
    with tag_modules():
        with pytest.raises(ValueError, match="boom"):
            model.faulty(x)
        assert hook_counts() == (before[0] + 1, before[1] + 1, before[2])
        outside = x * 2  # after the failure, outside any module
        out = model(x)
    assert module_of(outside.grad_fn) is None
    assert tagged(out) == Counter(
        {
            ("MulBackward0", "model"): 1,
            ("AddmmBackward0", "model.out"): 1,
            ("TBackward0", "model.out"): 1,
        }
    )
    assert hook_counts() == before


def test_an_interrupted_forward_is_cleaned_up_when_the_block_ends() -> None:
    class Interrupted(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise KeyboardInterrupt  # not an Exception: always_call hooks do not run

    before = hook_counts()
    with pytest.raises(KeyboardInterrupt), tag_modules():
        Interrupted()(torch.randn(1))
    assert hook_counts() == before


def _forward_in_own_frame() -> tuple[weakref.ref[nn.Module], torch.Tensor]:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with tag_modules():
        out = model(torch.randn(2, 4))
    return weakref.ref(model), out


def test_modules_are_not_kept_alive() -> None:
    ref, out = _forward_in_own_frame()
    gc.collect()
    assert ref() is None  # the graph is alive, the module is not
    assert module_of(out.grad_fn) == "model.1"

    model = mlp()
    namespace = {"model": model}
    ref = weakref.ref(model)
    with tag_modules(namespace):
        out = model(torch.randn(2, 4))
        del namespace["model"], model
        gc.collect()
        assert ref() is None  # nor while the block is still open
    assert module_of(out.grad_fn) == "model.2"


# --- threads and re-entry -------------------------------------------------------------------


def test_only_the_thread_that_entered_is_tagged() -> None:
    model = mlp()
    x = torch.randn(3, 4)
    result: dict[str, torch.Tensor] = {}
    with tag_modules():
        worker = threading.Thread(target=lambda: result.update(out=model(x)))
        worker.start()
        worker.join()
        mine = model(x)
    assert all(module_of(n) is None for n in all_nodes(result["out"]))
    assert module_of(mine.grad_fn) == "model.2"


def test_nested_blocks_and_reentry() -> None:
    model = mlp()
    before = hook_counts()
    tagger = ModuleTagger()
    with tagger:
        with pytest.raises(GradvizError):
            tagger.__enter__()
        with tag_modules():
            out = model(torch.randn(3, 4))
        first = model(torch.randn(3, 4))
    assert hook_counts() == before
    assert module_of(out.grad_fn) == "model.2"
    assert module_of(first.grad_fn) == "model.2"
    with tagger:  # a tagger can be used again
        again = model(torch.randn(3, 4))
    assert module_of(again.grad_fn) == "model.2"
    assert hook_counts() == before


@pytest.mark.filterwarnings("ignore:Using `torch.compile:UserWarning")
def test_a_compiled_module_runs_and_is_tagged_as_a_whole() -> None:
    torch._dynamo.reset()
    compiled = torch.compile(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), backend="eager")
    x = torch.randn(2, 4)
    with tag_modules():
        out = compiled(x)
    assert torch.equal(out, compiled._orig_mod(x))  # type: ignore[attr-defined]
    assert module_of(out.grad_fn) == "compiled"  # the hooks stay out of the traced code
