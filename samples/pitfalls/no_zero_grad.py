"""Pitfall: a training loop that never zeroes the gradients.

``loss.backward()`` adds into ``.grad``; without ``optimizer.zero_grad()`` each step uses the
sum of all gradients so far (g, 2g, 3g, ...).

    gradviz doctor samples/pitfalls/no_zero_grad.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 4), torch.randn(16, 1)

for _ in range(3):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()  # optimizer.zero_grad() is missing
    optimizer.step()
