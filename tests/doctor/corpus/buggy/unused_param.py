# expect: unused-param line=34 fix~=forward
"""Bug: a layer is built in __init__ but forward never uses it.

The author added a projection (self.proj) for the skip connection and then wrote the residual
without it: its weight and bias require grad, sit in the optimizer, and never get a gradient.
"""

import torch
from torch import nn


class ResidualMLP(nn.Module):
    def __init__(self, dim_in=12, dim=32):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim)  # meant for the skip connection
        self.fc1 = nn.Linear(dim_in, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, 1)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = h + torch.relu(self.fc2(h))
        return self.head(h)


torch.manual_seed(0)
model = ResidualMLP()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(64, 12), torch.randn(64, 1)
for epoch in range(3):
    for xb, yb in zip(x.split(16), y.split(16)):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
print("loss", loss.item())
