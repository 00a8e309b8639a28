"""Lesson: DistributedDataParallel: every rank holds the whole model, and backward averages
the gradients across ranks, so each rank's ``.grad`` is the same.

Two processes on CPU, with gloo; every rank runs the script (and gradviz), rank 0 writes the file:

    torchrun --nproc_per_node 2 --no-python gradviz run samples/ddp.py -o ddp.svg

DDP wraps the model: its parameters are named ``model.module.0.weight``.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
rank = dist.get_rank()

torch.manual_seed(0)  # the same model on every rank
model = DDP(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)))

torch.manual_seed(1 + rank)  # each rank its own batch
x, target = torch.randn(6, 8), torch.randn(6, 4)
loss = F.mse_loss(model(x), target)
loss.backward()  # DDP's hooks all-reduce the gradients as they come

norm = model.module[0].weight.grad.norm().item()
print(f"rank {rank}: loss {loss.item():.4f}; model.module.0.weight.grad norm {norm:.4f}")
dist.destroy_process_group()
