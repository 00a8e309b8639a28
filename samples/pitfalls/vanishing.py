"""Pitfall: vanishing gradients in a deep sigmoid network.

Each sigmoid scales the gradient by at most 1/4: after 12 layers the first layer's gradient is
many orders of magnitude smaller than the last one's.

    gradviz doctor samples/pitfalls/vanishing.py
"""

import torch
from torch import nn

torch.manual_seed(0)
layers: list[nn.Module] = []
for _ in range(12):
    layers += [nn.Linear(16, 16), nn.Sigmoid()]
model = nn.Sequential(*layers, nn.Linear(16, 1))
x, y = torch.randn(32, 16), torch.randn(32, 1)
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
