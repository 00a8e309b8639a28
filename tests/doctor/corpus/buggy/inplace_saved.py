# expect: inplace-modified line=35 fix~=out-of-place
"""Bug: an in-place op changes a tensor that autograd saved for backward.

torch.sigmoid saves its output for backward; the gating then multiplies that output in place
(gate.mul_(mask)), which bumps its version, and backward fails with "one of the variables
needed for gradient computation has been modified by an inplace operation". The fix: the
out-of-place gate = gate * mask.
"""

import torch
from torch import nn


class GatedBlock(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.value = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)

    def forward(self, x, mask):
        gate = torch.sigmoid(self.gate(x))
        gate.mul_(mask)  # drop the masked positions
        return x + gate * self.value(x)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), GatedBlock(), nn.Linear(16, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(32, 8), torch.randn(32, 1)
mask = (torch.rand(32, 16) > 0.1).float()
for step in range(3):
    optimizer.zero_grad()
    h = model[0](x)
    loss = nn.functional.mse_loss(model[2](model[1](h, mask)), y)
    loss.backward()
    optimizer.step()
