"""Lesson: FSDP2 (``fully_shard``): each rank holds a shard of every parameter, gathers the
whole parameter for forward, and keeps its shard of the gradient after backward.

Two processes on CPU, with gloo; every rank runs the script (and gradviz), rank 0 writes the file:

    torchrun --nproc_per_node 2 --no-python gradviz run samples/fsdp.py -o fsdp.svg

Run alone (`python` or `gradviz run`, no torchrun), it is a job of one process.

The parameters in the graph are the ones FSDP2 gathered (full shapes), named as yours
(``model.0.weight``) with the gradient your parameter got: this rank's local shard.
"""

import gc
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.fsdp import fully_shard

if "RANK" in os.environ:  # under torchrun
    dist.init_process_group("gloo")
else:  # alone (python or gradviz run, no torchrun): a job of one process
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
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
# torch 2.13 with gloo can abort at exit ("terminate called without an active exception")
# when a finished all-reduce is freed after Python has shut down: release what holds the
# process group first, so that destroy_process_group joins gloo's threads.
del model, loss
gc.collect()
dist.destroy_process_group()
