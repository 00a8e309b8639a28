# expect: grad-accumulation line=28 fix~=zero_grad
"""Bug: the training loop never zeroes the gradients.

loss.backward() adds into .grad: without optimizer.zero_grad() each step uses the sum of every
gradient so far, and the effective learning rate grows with the step count.
"""

import torch
from torch import nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


torch.manual_seed(0)
model = Regressor()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
x, y = torch.randn(64, 8), torch.randn(64)
for epoch in range(4):
    pred = model(x)
    loss = nn.functional.mse_loss(pred, y)
    loss.backward()
    optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
