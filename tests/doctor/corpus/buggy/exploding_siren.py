# expect: exploding fix~=clip
"""Bug: a SIREN (sine activations, omega_0 = 30) without its special initialisation.

SIREN needs its hidden weights initialised in [-sqrt(6/n)/30, sqrt(6/n)/30]; with nn.Linear's
default initialisation each layer multiplies the gradient by up to 30 * |W| going back, while
sin keeps the forward values in [-1, 1]: the first layer's gradient is orders of magnitude
larger than the last one's.
"""

import torch
from torch import nn


class SineLayer(nn.Module):
    def __init__(self, in_features, out_features, omega_0=30.0):
        super().__init__()
        self.omega_0 = omega_0
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return torch.sin(self.omega_0 * self.linear(x))


torch.manual_seed(0)
model = nn.Sequential(*[SineLayer(2 if i == 0 else 32, 32) for i in range(7)], nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
coords = torch.rand(256, 2) * 2 - 1
image = torch.sin(3 * coords[:, :1]) * torch.cos(2 * coords[:, 1:])
for step in range(3):
    optimizer.zero_grad()
    loss = ((model(coords) - image) ** 2).mean()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
