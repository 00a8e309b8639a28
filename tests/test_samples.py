"""Run every tutorial sample and check its gradients against hand-derived formulas.

Torch is the thing under test here: the oracles are calculus done by hand
(plain Python floats where practical), never another autograd call -- except
for the MLP, where a fresh ``torch.autograd.grad`` is used alongside a manual
backprop, and for checkpointing, whose gradients must be the plain model's.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any

import pytest
import torch

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_NAMES = [
    "accumulate",
    "exp_square",
    "no_grad_input",
    "neurons",
    "linear_regression",
    "mlp",
    "gradient_flow",
    "checkpoint",
    "leaf_vs_nonleaf",
    "retain_graph",
    "no_grad",
    "data_vs_detach",
    "retain_grad",
    "vector_backward",
    "compile",
]


def run_sample(name: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """Execute samples/NAME.py as __main__; return its globals and captured stdout."""
    ns = runpy.run_path(str(SAMPLES_DIR / f"{name}.py"), run_name="__main__")
    return ns, capsys.readouterr().out


# --------------------------------------------------------------------------- generic


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_runs_prints_and_is_documented(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ns, out = run_sample(name, capsys)
    assert out.strip(), "sample should print a few lines"
    assert len(out.splitlines()) <= 12
    doc = ns["__doc__"]
    assert doc and f"gradviz run samples/{name}.py -o {name}.svg" in doc


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_output_is_deterministic(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, first = run_sample(name, capsys)
    _, second = run_sample(name, capsys)
    assert first == second


# --------------------------------------------------------------------------- (a) accumulate


def test_accumulate_grads_add_up_then_update(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("accumulate", capsys)
    xs, ts, w0, lr = ns["x"].tolist(), ns["target"].tolist(), ns["w_init"], ns["lr"]
    n = len(xs)
    # loss = (1/n) * sum (w*x - t)^2   =>   dloss/dw = (2/n) * sum (w*x - t) * x
    g = 2.0 / n * sum((w0 * xi - ti) * xi for xi, ti in zip(xs, ts, strict=True))

    grads = ns["grads"]
    assert len(grads) == 3
    for k, grad in enumerate(grads, start=1):
        assert grad.item() == pytest.approx(k * g, rel=1e-6), f"after backward #{k}"

    w = ns["w"]
    assert w.item() == pytest.approx(w0 - lr * 3 * g, rel=1e-6)  # update used the 3g sum
    assert w.grad is not None and w.grad.item() == 0.0  # and the grad was reset


# --------------------------------------------------------------------------- (b) exp_square


def test_exp_square_product_rule(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("exp_square", capsys)
    x = ns["x"]
    by_hand = torch.tensor([2 * v * math.exp(v) + v * v * math.exp(v) for v in x.tolist()])
    assert x.grad is not None
    assert torch.allclose(x.grad, by_hand, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- (c) no_grad_input


def test_no_grad_input(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("no_grad_input", capsys)
    x, w, b = ns["x"], ns["w"], ns["b"]
    assert not x.requires_grad
    assert x.grad is None
    # loss = sum(w*x + b)  =>  dloss/dw_i = x_i,  dloss/db_i = 1
    assert w.grad.tolist() == pytest.approx(x.tolist())
    assert b.grad.tolist() == pytest.approx([1.0] * len(x.tolist()))


# --------------------------------------------------------------------------- (d) neurons


def _neuron_grads_by_hand(a: float, w1: float, w2: float, w3: float, w4: float) -> dict:
    b, c = w1 * a, w2 * a
    # L = 10 - d, d = w3*b + w4*c, b = w1*a, c = w2*a;  dL/dd = -1
    return {
        "w3": -b,
        "w4": -c,
        "w1": -w3 * a,
        "w2": -w4 * a,
        "a": -(w3 * w1 + w4 * w2),
    }


@pytest.mark.parametrize("leaf", ["a", "w1", "w2", "w3", "w4"])
def test_neurons_chain_rule(leaf: str, capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("neurons", capsys)
    vals = {k: ns[k].item() for k in ("a", "w1", "w2", "w3", "w4")}
    expected = _neuron_grads_by_hand(**vals)[leaf]
    assert ns[leaf].grad is not None
    assert ns[leaf].grad.item() == pytest.approx(expected)


def test_neurons_gradients_are_the_ones_checked_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    ns, out = run_sample("neurons", capsys)
    grads = {k: ns[k].grad.item() for k in ("a", "w1", "w2", "w3", "w4")}
    assert grads == {"a": -1.125, "w1": -6.0, "w2": -0.5, "w3": -1.0, "w4": 3.0}
    assert "dL/da = -1.125" in out and "L = 7.75" in out


def test_neurons_forward_values(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("neurons", capsys)
    a, w1, w2, w3, w4 = (ns[k].item() for k in ("a", "w1", "w2", "w3", "w4"))
    d = w3 * (w1 * a) + w4 * (w2 * a)
    assert ns["L"].item() == pytest.approx(10 - d)


# --------------------------------------------------------------------------- (e) linear_regression


def test_linear_regression_learns_line(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("linear_regression", capsys)
    w, b = ns["w"].item(), ns["b"].item()
    assert w == pytest.approx(2.0, abs=0.1)
    assert b == pytest.approx(3.0, abs=0.1)

    # Closed-form least squares on the sample's own (noisy) data.
    xs, ys = ns["x"].tolist(), ns["y_true"].tolist()
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    w_star = sum((xi - mx) * (yi - my) for xi, yi in zip(xs, ys, strict=True)) / sum(
        (xi - mx) ** 2 for xi in xs
    )
    b_star = my - w_star * mx
    assert w == pytest.approx(w_star, abs=1e-2)
    assert b == pytest.approx(b_star, abs=1e-2)


def test_linear_regression_loss_decreases(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("linear_regression", capsys)
    losses = ns["losses"]
    assert len(losses) == ns["epochs"]
    assert losses[-1] < losses[0] / 100
    # The final epoch's loss tensor is still a global, and it is still a graph output.
    assert isinstance(ns["loss"], torch.Tensor) and ns["loss"].grad_fn is not None
    assert ns["loss"].item() == pytest.approx(losses[-1])
    # Grads were zeroed after the last update.
    assert ns["w"].grad.item() == 0.0 and ns["b"].grad.item() == 0.0


# --------------------------------------------------------------------------- (f) mlp


@pytest.fixture
def mlp_ns(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    ns, _ = run_sample("mlp", capsys)
    return ns


def _mlp_grads_by_hand(ns: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Manual backprop for Linear(4,8) -> ReLU -> Linear(8,1) with MSE loss."""
    model, x, target = ns["model"], ns["x"], ns["target"]
    lin1, lin2 = model[0], model[2]
    with torch.no_grad():
        pre = x @ lin1.weight.T + lin1.bias  # (N, 8)
        h = pre.clamp(min=0)  # ReLU
        out = h @ lin2.weight.T + lin2.bias  # (N, 1)
        n = out.numel()
        d_out = 2.0 / n * (out - target)  # dL/dout for L = mean((out - t)^2)
        d_h = d_out @ lin2.weight  # (N, 8)
        d_pre = d_h * (pre > 0)  # ReLU passes gradient only where pre > 0
        return {
            "2.weight": d_out.T @ h,  # mean-error . hidden activations
            "2.bias": d_out.sum(0),
            "0.weight": d_pre.T @ x,
            "0.bias": d_pre.sum(0),
        }


MLP_PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("pname", MLP_PARAMS)
def test_mlp_grad_matches_manual_backprop(pname: str, mlp_ns: dict[str, Any]) -> None:
    grad = dict(mlp_ns["model"].named_parameters())[pname].grad
    assert grad is not None
    assert torch.allclose(grad, _mlp_grads_by_hand(mlp_ns)[pname], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pname", MLP_PARAMS)
def test_mlp_grad_matches_fresh_autograd(pname: str, mlp_ns: dict[str, Any]) -> None:
    model = mlp_ns["model"]
    params = dict(model.named_parameters())
    fresh_loss = torch.nn.functional.mse_loss(model(mlp_ns["x"]), mlp_ns["target"])
    assert fresh_loss.item() == pytest.approx(mlp_ns["loss"].item())
    (fresh,) = torch.autograd.grad(fresh_loss, [params[pname]])
    assert torch.allclose(params[pname].grad, fresh, rtol=1e-5, atol=1e-6)


# --- (g) gradient flow: the gradient recorded at every node, against retain_grad() -------------


def test_gradient_flow_records_what_retain_grad_would_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from graphviz_autograd import capture

    with capture() as cap:
        ns, _ = run_sample("gradient_flow", capsys)
    model, x, target = ns["model"], ns["x"], ns["target"]
    # The oracle: the same forward with retain_grad() on every activation.
    for p in model.parameters():
        p.grad = None
    h, acts = x, []
    for layer in model:
        h = layer(h)
        h.retain_grad()
        acts.append(h)
    torch.nn.functional.mse_loss(h, target).backward()
    recorded = [n for n in cap.graph.nodes if n.op in ("AddmmBackward0", "TanhBackward0")]
    # nodes are numbered from the loss back: the last layer's output first
    expected = [a.grad for a in reversed(acts)]
    assert len(recorded) == len(expected) == 7
    for node, grad in zip(recorded, expected, strict=True):
        assert node.grad is not None and grad is not None
        assert node.grad.norm == pytest.approx(float(grad.norm()), rel=1e-5)
    # and the gradient does fade toward the first layer
    assert recorded[-1].grad.norm < recorded[0].grad.norm / 100  # type: ignore[union-attr]


# --- (h) checkpoint: the same gradients as without checkpointing -------------------------------


def test_checkpoint_gives_the_gradients_of_the_plain_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns, _ = run_sample("checkpoint", capsys)
    assert ns["reentrant"]
    embed, block, head = ns["embed"], ns["block"], ns["head"]
    params = [*embed.parameters(), *block.parameters(), *head.parameters()]
    loss = torch.nn.functional.mse_loss(head(block(embed(ns["x"]))), ns["target"])
    expected = torch.autograd.grad(loss, params)  # the oracle: no checkpoint
    for p, grad in zip(params, expected, strict=True):
        assert p.grad is not None
        assert torch.allclose(p.grad, grad, rtol=1e-6, atol=1e-8)


# --- compile: the same gradients as the plain model ---------------------------------------------


def test_compile_gives_the_gradients_of_the_plain_model(capsys: pytest.CaptureFixture[str]) -> None:
    ns, _ = run_sample("compile", capsys)
    model, x, target = ns["model"], ns["x"], ns["target"]
    params = list(model.parameters())
    got = [p.grad.clone() for p in params]
    loss = torch.nn.functional.mse_loss(model(x), target)
    expected = torch.autograd.grad(loss, params)  # the oracle: the model not compiled
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, rtol=1e-5, atol=1e-6)
