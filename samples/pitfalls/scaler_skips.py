"""Not a bug: a GradScaler skipping its first steps.

Mixed-precision training multiplies the loss by a large scale so that float16 gradients do not
underflow. Where the scaled gradients overflow, ``scaler.step`` skips the step and
``scaler.update`` halves the scale: by design. The doctor reports it as an info, with the
scale's path; only a run where every step is skipped is a warning.

    gradviz doctor samples/pitfalls/scaler_skips.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)  # too high at first: skips
x, y = torch.randn(32, 8), torch.randn(32, 1)

for _ in range(20):
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
