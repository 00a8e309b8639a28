"""Lesson: what a compiled model computes in backward.

``torch.compile`` hands a region of the model to AOTAutograd, which traces its backward into a
graph of aten ops ahead of time. In the eager graph the whole region is one node,
``CompiledFunctionBackward``; gradviz opens it, in a box of its own: the ops (``mm``,
``threshold_backward``, ...), the activations the forward saved for them (named by the forward
op that made them: ``addmm``, ``relu``) and the parameters each gradient goes to.

The ``aot_eager`` backend runs AOTAutograd without inductor's code generation: the same kind of
backward graph in seconds. Leave ``backend`` out for inductor, torch's default, whose graph is
decomposed further (``permute`` for ``t``, ...).

View the graph with:  gradviz run samples/compile.py -o compile.svg
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
fast = torch.compile(model, backend="aot_eager", dynamic=False)  # shapes as given

x = torch.randn(5, 4)  # a fixed batch: 5 samples, 4 features
target = torch.randn(5, 1)

loss = F.mse_loss(fast(x), target)
loss.backward()

print(f"loss = {loss.item():.4f}")
for name, p in model.named_parameters():
    print(f"{name:8s} grad shape {tuple(p.grad.shape)}, norm {p.grad.norm().item():.4f}")
