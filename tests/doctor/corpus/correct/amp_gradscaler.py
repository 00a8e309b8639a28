"""Mixed precision on CPU: fp16 autocast with torch.amp.GradScaler.

Correct: the scaler starts at 2**24, far too high, so the first backward calls overflow the
fp16 gradients to Inf on purpose; scaler.step() sees the Inf, skips optimizer.step() and
scaler.update() halves the scale until the gradients fit. This is how GradScaler is meant to
find its scale; the skipped steps are not a bug.
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24)
x = torch.randn(32, 32)
y = torch.randint(0, 4, (32,))

skipped = 0
for step in range(16):
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.float16):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    scaler.scale(loss).backward()
    scale = scaler.get_scale()
    scaler.step(optimizer)
    scaler.update()
    skipped += scaler.get_scale() < scale
print(f"loss {loss.item():.4f}, {skipped} of 16 steps skipped, scale {scaler.get_scale():g}")
