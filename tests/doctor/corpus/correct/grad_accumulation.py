"""Gradient accumulation over 4 micro-batches per optimizer step.

Correct: the .grad of each parameter deliberately sums 4 backward calls (each loss divided by
4, so the sum is the mean over the large batch); zero_grad() runs right after each
optimizer.step(), so no gradient outlives its step.
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
accum_steps = 4
data = torch.randn(64, 16)
target = torch.randn(64, 1)

optimizer.zero_grad()
for i, (x, y) in enumerate(zip(data.split(4), target.split(4))):
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
print("final loss", loss.item() * accum_steps)
