"""Pitfall: a layer replaced after the optimizer was built.

The optimizer holds the parameters the model had when it was made. ``model.head = ...``
afterwards puts new parameters in the model that no optimizer holds: they get gradients at
every backward and never change.

    gradviz doctor samples/pitfalls/head_not_in_optimizer.py
"""

import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


torch.manual_seed(0)
model = Classifier()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.head = nn.Linear(16, 3)  # three classes after all: after the optimizer was built
x, y = torch.randn(12, 8), torch.randint(0, 3, (12,))

for _ in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
