"""A small MLP trained for 300 SGD steps on synthetic data: plain torch, fixed seed.

The workload of `capture_overhead.py`: ``python mlp_train.py`` against
``gradviz run mlp_train.py -o /tmp/x.dot``.
"""

from __future__ import annotations

import torch
from torch import nn

STEPS = 300

torch.manual_seed(0)
x = torch.randn(256, 20)
y = (x[:, :5].sum(dim=1, keepdim=True) - x[:, 5:10].pow(2).mean(dim=1, keepdim=True)).tanh()

model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for step in range(STEPS):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    if step % 100 == 0 or step == STEPS - 1:
        print(f"step {step:3d}  loss {loss.item():.4f}")
