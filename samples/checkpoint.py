"""Lesson: activation checkpointing trades compute for memory.

``checkpoint(block, h)`` runs ``block`` without keeping its activations, and backward runs it
again to get them. With ``use_reentrant=True`` the graph holds one opaque
``CheckpointFunctionBackward`` node in place of the block's ops and parameters; backward
recomputes the block and runs a backward call of its own through it, inside
``loss.backward()``. gradviz numbers that call 1.1 (the first call made inside call 1). With
``use_reentrant=False`` the block's ops are recorded in the graph like any others.

View the graph with:  gradviz run samples/checkpoint.py -o checkpoint.svg
Inside the checkpoint: gradviz run samples/checkpoint.py --call 1.1 -o inside.svg
Not reentrant:        gradviz run samples/checkpoint.py -o plain.svg -- --no-reentrant
"""

import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

reentrant = "--no-reentrant" not in sys.argv[1:]
torch.manual_seed(0)
embed = nn.Linear(4, 8)
block = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8))
head = nn.Linear(8, 1)

x = torch.randn(5, 4)  # a fixed batch: 5 samples, 4 features
target = torch.randn(5, 1)

hidden = embed(x)
out = checkpoint(block, hidden, use_reentrant=reentrant)  # block's activations are not kept
loss = F.mse_loss(head(out), target)
loss.backward()

print(f"loss = {loss.item():.4f} (use_reentrant={reentrant})")
for name, module in (("embed", embed), ("block", block), ("head", head)):
    norm = torch.stack([p.grad.norm() for p in module.parameters()]).norm()
    print(f"{name:6s} grad norm {norm.item():.4f}")
