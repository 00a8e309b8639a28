"""Lesson: autograd through an nn.Module (Linear -> ReLU -> Linear).

Every parameter of the model is a leaf with requires_grad=True, so one
``loss.backward()`` fills ``.grad`` for all weights and biases.

View the graph with:  gradviz run samples/mlp.py -o mlp.svg
"""

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(4, 8),
    nn.ReLU(),
    nn.Linear(8, 1),
)

x = torch.randn(5, 4)  # a fixed batch: 5 samples, 4 features
target = torch.randn(5, 1)

pred = model(x)
loss = F.mse_loss(pred, target)
loss.backward()

print(f"loss = {loss.item():.4f}")
for name, p in model.named_parameters():
    print(f"{name:8s} grad shape {tuple(p.grad.shape)}, norm {p.grad.norm().item():.4f}")
