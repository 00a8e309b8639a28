"""Lesson: FSDP2 (``fully_shard``): each rank holds a shard of every parameter, gathers the
whole parameter for forward, and keeps its shard of the gradient after backward.

Two processes on CPU, with gloo; every rank runs the script (and gradviz), rank 0 writes the file:

    torchrun --nproc_per_node 2 --no-python gradviz run samples/fsdp.py -o fsdp.svg

The parameters in the graph are the ones FSDP2 gathered (full shapes), named as yours
(``model.0.weight``) with the gradient your parameter got: this rank's local shard.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.fsdp import fully_shard

dist.init_process_group("gloo")
rank = dist.get_rank()

torch.manual_seed(0)  # the same model on every rank
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
for layer in (model[0], model[2]):
    fully_shard(layer)  # each Linear gathers, then frees, its own parameters
fully_shard(model)

torch.manual_seed(1 + rank)  # each rank its own batch
x, target = torch.randn(6, 8), torch.randn(6, 4)
loss = F.mse_loss(model(x), target)
loss.backward()

shard = model[0].weight.grad.to_local()  # a DTensor: this rank's rows of the gradient
print(
    f"rank {rank}: loss {loss.item():.4f}; model.0.weight {tuple(model[0].weight.shape)}, "
    f"its gradient here {tuple(shard.shape)}"
)
dist.destroy_process_group()
