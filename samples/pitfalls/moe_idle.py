"""Not a bug: experts that some steps leave without a gradient.

A mixture of experts routes each batch to the experts its gate picks; an expert no token went
to gets no gradient at that step, and the optimizer leaves it as it was. The doctor reports how
often, as an info (under DistributedDataParallel it would need find_unused_parameters=True).

    gradviz doctor samples/pitfalls/moe_idle.py
"""

import torch
from torch import nn


class MixtureOfExperts(nn.Module):
    def __init__(self, experts: int = 4) -> None:
        super().__init__()
        self.gate = nn.Linear(8, experts)
        self.experts = nn.ModuleList(nn.Linear(8, 8) for _ in range(experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        choice = self.gate(x).argmax(-1)  # top-1 routing
        out = torch.zeros_like(x)
        for i, expert in enumerate(self.experts):
            picked = choice == i
            if picked.any():
                out[picked] = expert(x[picked])
        return out * self.gate(x).softmax(-1).max(-1, keepdim=True).values


torch.manual_seed(1)
model = MixtureOfExperts()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for _ in range(12):
    optimizer.zero_grad()
    x = torch.randn(2, 8)  # two tokens: two of the four experts at most
    loss = model(x).pow(2).mean()
    loss.backward()
    optimizer.step()
