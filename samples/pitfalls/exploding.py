"""Pitfall: exploding gradients through a steep activation.

``sin(30 * x)`` (a SIREN layer without its special initialisation) keeps values in [-1, 1]
going forward, but each layer multiplies the gradient by up to 30 * |W| going back: the first
layer's gradient is many orders of magnitude larger than the last one's.

    gradviz doctor samples/pitfalls/exploding.py
"""

import torch
from torch import nn


class Sine(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30.0 * x)


torch.manual_seed(0)
layers: list[nn.Module] = []
for _ in range(8):
    layers += [nn.Linear(16, 16), Sine()]
model = nn.Sequential(*layers, nn.Linear(16, 1))
x, y = torch.randn(32, 16), torch.randn(32, 1)
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
