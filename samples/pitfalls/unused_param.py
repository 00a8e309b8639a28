"""Pitfall: a layer the forward pass never uses never gets a gradient.

``Net.spare`` is built in ``__init__`` but ``forward`` forgets it, so ``model.spare.weight``
and ``model.spare.bias`` require grad yet no backward call reaches them.

    gradviz doctor samples/pitfalls/unused_param.py
"""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 8)
        self.spare = nn.Linear(8, 8)  # meant to go between body and head
        self.head = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


torch.manual_seed(0)
model = Net()
x, y = torch.randn(16, 4), torch.randn(16, 1)
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
