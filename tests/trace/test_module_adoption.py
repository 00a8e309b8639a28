"""Modules no variable names, called inside a named module's forward (transformers' rotary
``Func``, a module made inside a forward, one held in a global or a plain list): each is drawn
in the box of the module that called it, named by what holds it there."""

from __future__ import annotations

import importlib
from collections import Counter

import pytest
import torch
from conftest import real_models
from torch import nn

from graphviz_autograd import capture
from graphviz_autograd.trace.modules import tag_modules
from graphviz_autograd.trace.walk import build_graph


def op_modules(tensor: torch.Tensor) -> Counter[str | None]:
    """How many op nodes of ``tensor``'s graph each module path made."""
    graph = build_graph(tensor, modules=True)
    return Counter(node.module for node in graph.nodes if node.kind == "op")


class Rotate(nn.Module):
    """Stands for the ``Func`` module transformers wraps ``apply_rotary_pos_emb`` in: it has
    a registered child of its own, and no module registers it."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.mix(x.flip(-1)) * 2
        return out


ROTATE = Rotate()
"""Held in a global of the module defining the model, as ``apply_rotary_pos_emb`` is."""


class Attention(nn.Module):
    scale: nn.Module
    fns: list[nn.Module]

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        object.__setattr__(self, "scale", nn.Softplus())  # an attribute, not a submodule
        self.fns = [nn.Tanh()]  # a plain list: not registered either

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = ROTATE(self.proj(x))
        h = self.fns[0](self.scale(h))
        act = nn.ReLU()  # made in the forward, held in a local
        h = act(h + 1)
        out: torch.Tensor = nn.Sigmoid()(h) * nn.Sigmoid()(h)  # in no variable
        return out


EXPECTED = {
    "proj": 2,  # AddmmBackward0, TBackward0
    "ROTATE": 2,  # FlipBackward0, MulBackward0
    "ROTATE.mix": 2,
    "scale": 1,
    "fns.0": 1,
    "": 2,  # AddBackward0 (h + 1), MulBackward0
    "act": 1,
    "Sigmoid#1": 1,
    "Sigmoid#2": 1,
}


def expected(prefix: str) -> Counter[str | None]:
    return Counter({(f"{prefix}.{k}" if k else prefix): n for k, n in EXPECTED.items()})


def test_unregistered_modules_are_named_inside_the_module_that_calls_them() -> None:
    model = nn.Sequential(Attention(), Attention())
    x = torch.randn(2, 4)
    with tag_modules({"model": model}):
        first = model(x)
        second = model(x)  # the next step: the same names, modules made anew are counted anew
    want = expected("model.0") + expected("model.1")
    assert op_modules(first) == want
    assert op_modules(second) == want


def test_a_global_module_called_twice_in_one_call_is_told_apart_by_call() -> None:
    class Twice(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return ROTATE(ROTATE(x))  # type: ignore[no-any-return]

    model = Twice()
    with tag_modules({"model": model}):
        out = model(torch.randn(2, 4))
    assert set(op_modules(out)) == {
        "model.ROTATE",
        "model.ROTATE.mix",
        "model.ROTATE@2",
        "model.ROTATE@2.mix",
    }


@pytest.mark.parametrize("kind", ["llama", "mistral"])
def test_rotary_ops_of_llama_and_mistral_are_in_their_attention_box(kind: str) -> None:
    models = real_models()
    with capture(modules=True, namespace=models.NAMESPACE) as cap:
        loss, _ = getattr(models, kind)()
        loss.backward()
    modules = Counter(node.module for node in cap.calls[0].graph.nodes if node.kind == "op")
    tops = {path.split(".")[0] for path in modules if path is not None}
    assert tops == {"model"}  # no Func#2, Func#3 beside the model
    assert not any("#" in path for path in modules if path is not None)
    modeling = importlib.import_module(f"transformers.models.{kind}.modeling_{kind}")
    if isinstance(modeling.apply_rotary_pos_emb, nn.Module):  # transformers 5, with `kernels`
        rotary = [path for path in modules if path and "rotary_pos_emb" in path]
        assert sorted(rotary) == [
            f"model.model.layers.{layer}.self_attn.apply_rotary_pos_emb.kernel_func"
            for layer in (0, 1)
        ]
