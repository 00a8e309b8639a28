# expect: nonfinite-forward line=22 fix~=clamp
"""Bug: a hand-written binary cross-entropy takes log of a probability that reaches exactly 0.

The sigmoid of a large negative logit is 0.0 in float32, log(0) is -inf, and the loss is
inf/NaN from the first step. The fix: clamp the probability (or use
binary_cross_entropy_with_logits, which works on the logits).
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
with torch.no_grad():
    model[2].bias.fill_(-120.0)  # a badly initialised output bias: sigmoid saturates to 0
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(32, 4)
y = (x[:, 0] > 0).float()


def bce(prob, target):
    return -(target * torch.log(prob) + (1 - target) * torch.log(1 - prob)).mean()


for step in range(3):
    prob = torch.sigmoid(model(x)).squeeze(-1)
    loss = bce(prob, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item()}")
