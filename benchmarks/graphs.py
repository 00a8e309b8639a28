"""The standard benchmark graphs: each builder returns ``(output, params)``, seeded.

``output`` is a scalar-or-small tensor with an autograd graph; ``params`` names the leaves of a
model (``dict(model.named_parameters())``) or is None. Every builder seeds torch itself, so a
graph is the same on every run and in every process.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Built = tuple[torch.Tensor, dict[str, torch.Tensor] | None]


def chain(n: int) -> Built:
    """``y = y * 1.0`` ``n`` times on a 1-element leaf: ``n`` MulBackward0 nodes and one leaf."""
    torch.manual_seed(0)
    y = x = torch.randn(1, requires_grad=True)
    for _ in range(n):
        y = torch.mul(y, 1.0)
    return y, {"x": x}


def mlp() -> Built:
    """A 3-layer MLP (64 -> 128 -> 128 -> 10) with cross-entropy on a batch of 32."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    x, target = torch.randn(32, 64), torch.randint(0, 10, (32,))
    loss = nn.functional.cross_entropy(model(x), target)
    return loss, dict(model.named_parameters())


def cnn() -> Built:
    """Two conv + BatchNorm + ReLU blocks, global pooling and a linear head, on 8x3x32x32."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    x, target = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    loss = nn.functional.cross_entropy(model(x), target)
    return loss, dict(model.named_parameters())


def transformer(layers: int) -> Built:
    """``nn.TransformerEncoder`` (d_model 64, nhead 4, ff 128), train mode, batch 4 x 16 tokens."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
    x = torch.randn(4, 16, 64)
    out = model(x).pow(2).mean()
    return out, dict(model.named_parameters())


def doubling(times: int = 40) -> Built:
    """``x = x + x`` ``times`` times: 2**times root-to-leaf paths through times + 1 nodes."""
    torch.manual_seed(0)
    y = x = torch.randn(1, requires_grad=True)
    for _ in range(times):
        y = y + y
    return y, {"x": x}


def wide(leaves: int = 10_000) -> Built:
    """``leaves`` leaves, each times a constant, into one ``torch.stack(...).sum()``."""
    torch.manual_seed(0)
    xs = [torch.randn(1, requires_grad=True) for _ in range(leaves)]
    out = torch.stack([x * 2.0 for x in xs]).sum()
    return out, None


GRAPHS: dict[str, tuple[str, Callable[[], Built]]] = {
    "chain-1e3": ("chain 1e3", lambda: chain(1_000)),
    "chain-1e4": ("chain 1e4", lambda: chain(10_000)),
    "chain-1e5": ("chain 1e5", lambda: chain(100_000)),
    "chain-1e6": ("chain 1e6", lambda: chain(1_000_000)),
    "mlp": ("MLP", mlp),
    "cnn-bn": ("CNN + BatchNorm", cnn),
    "transformer-2": ("TransformerEncoder x2", lambda: transformer(2)),
    "transformer-6": ("TransformerEncoder x6", lambda: transformer(6)),
    "doubling-40": ("x = x + x, 40 times", doubling),
    "wide-10k": ("10k leaves -> stack.sum", wide),
}
"""Key -> (title for tables, builder), in table order."""

QUICK: tuple[str, ...] = tuple(k for k in GRAPHS if k not in ("chain-1e5", "chain-1e6"))
"""The graphs `run.py --quick` measures (everything but the two longest chains)."""


def build(key: str) -> Built:
    """Build graph ``key``; raises KeyError naming the choices."""
    if key not in GRAPHS:
        raise KeyError(f"unknown graph {key!r}; choose from: {', '.join(GRAPHS)}")
    return GRAPHS[key][1]()
