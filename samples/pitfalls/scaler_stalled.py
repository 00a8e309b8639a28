"""Pitfall: a GradScaler that never steps again.

A NaN in the loss makes every gradient NaN at any scale: ``scaler.step`` skips every step
and the scale falls towards zero, while the loop runs on as if it trained.

    gradviz doctor samples/pitfalls/scaler_stalled.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu")
x, y = torch.randn(16, 4), torch.randn(16, 1)
y[0] = float("nan")  # one bad label

for _ in range(8):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
