"""Pitfall: zero_grad() between backward() and step().

``optimizer.zero_grad()`` clears the gradients that ``loss.backward()`` just made, so
``optimizer.step()`` finds nothing to apply: the model never learns, and nothing fails.

    gradviz doctor samples/pitfalls/zero_grad_before_step.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 4), torch.randn(16, 1)

for _ in range(3):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.zero_grad()  # too late: it clears what backward just made
    optimizer.step()
