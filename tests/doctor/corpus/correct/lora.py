"""LoRA fine-tuning: a frozen base model with trainable low-rank adapters.

Correct: every base parameter is frozen with requires_grad_(False); each adapted nn.Linear
gets A (random) and B (zeros) so the adapted model starts equal to the base; the optimizer
holds only the parameters that require grad. B starts at zero, so on the first step A's
gradient is zero: expected for LoRA, and B moves from the first step.
"""

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int = 4, alpha: float = 8.0):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, 5)

    def forward(self, x):
        return self.out(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


torch.manual_seed(0)
model = MLP()
model.requires_grad_(False)
model.fc1 = LoRALinear(model.fc1)
model.fc2 = LoRALinear(model.fc2)
trainable = [p for p in model.parameters() if p.requires_grad]
total = sum(p.numel() for p in model.parameters())
print(f"trainable: {sum(p.numel() for p in trainable)} of {total}")
optimizer = torch.optim.AdamW(trainable, lr=1e-2)
x = torch.randn(64, 32)
y = torch.randint(0, 5, (64,))

for step in range(10):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
print("loss", loss.item())
