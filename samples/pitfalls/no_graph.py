"""Pitfall: backward on a loss computed under ``torch.no_grad()``.

The forward pass ran under ``no_grad`` (copied from evaluation code), so the loss has no graph:
"element 0 of tensors does not require grad and does not have a grad_fn".

    gradviz doctor samples/pitfalls/no_graph.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
x, y = torch.randn(16, 4), torch.randn(16, 1)

with torch.no_grad():
    pred = model(x)  # no graph is recorded here
loss = nn.functional.mse_loss(pred, y)
loss.backward()
