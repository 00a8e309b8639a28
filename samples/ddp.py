"""Lesson: DistributedDataParallel: every rank holds the whole model, and backward averages
the gradients across ranks, so each rank's ``.grad`` is the same.

Two processes on CPU, with gloo; every rank runs the script (and gradviz), rank 0 writes the file:

    torchrun --nproc_per_node 2 --no-python gradviz run samples/ddp.py -o ddp.svg

Run alone (`python` or `gradviz run`, no torchrun), it is a job of one process.

DDP wraps the model: its parameters are named ``model.module.0.weight``.
"""

import gc
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

if "RANK" in os.environ:  # under torchrun
    dist.init_process_group("gloo")
else:  # alone (python or gradviz run, no torchrun): a job of one process
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
rank = dist.get_rank()

torch.manual_seed(0)  # the same model on every rank
model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)))

torch.manual_seed(1 + rank)  # each rank its own batch
x, target = torch.randn(6, 8), torch.randn(6, 4)
loss = F.mse_loss(model(x), target)
loss.backward()  # DDP's hooks all-reduce the gradients as they come

norm = model.module[0].weight.grad.norm().item()
print(f"rank {rank}: loss {loss.item():.4f}; model.module.0.weight.grad norm {norm:.4f}")
# torch 2.13 with gloo can abort at exit ("terminate called without an active exception")
# when a finished all-reduce is freed after Python has shut down: release what holds the
# process group first, so that destroy_process_group joins gloo's threads.
del model, loss
gc.collect()
dist.destroy_process_group()
