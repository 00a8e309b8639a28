"""Pitfall: ``.detach()`` (like ``.data`` and ``torch.no_grad()``) cuts the graph.

The encoder's output is detached before the head, so the encoder's parameters feed the loss
only through the cut: they get no gradient and never learn.

    gradviz doctor samples/pitfalls/detached.py
"""

import torch
from torch import nn

torch.manual_seed(0)
encoder = nn.Linear(4, 8)
head = nn.Linear(8, 1)
x, y = torch.randn(16, 4), torch.randn(16, 1)

features = encoder(x).detach()  # the cut: encoder learns nothing
loss = nn.functional.mse_loss(head(features), y)
loss.backward()
