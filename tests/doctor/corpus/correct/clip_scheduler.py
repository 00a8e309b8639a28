"""A classic supervised loop: AdamW, gradient clipping and a warmup + cosine LR schedule.

Correct: zero_grad, backward, clip_grad_norm_ (between backward and step, where it belongs),
optimizer.step(), then scheduler.step() (after optimizer.step(), as torch expects).
"""

import math

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
total, warmup = 30, 5
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer,
    lambda s: (
        (s + 1) / warmup
        if s < warmup
        else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))
    ),
)
x = torch.randn(128, 10)
y = (x[:, 0] * x[:, 1] > 0).long()
for step in range(total):
    idx = torch.randint(0, 128, (32,))
    logits = model(x[idx])
    loss = nn.functional.cross_entropy(logits, y[idx])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
    scheduler.step()
print(
    f"loss {loss.item():.4f}, last grad norm {grad_norm:.3f}, lr {scheduler.get_last_lr()[0]:.2e}"
)
