"""A top-1 mixture-of-experts layer where some experts receive no tokens on some steps.

Correct: a router sends each token to its top expert; an expert that got no token in a batch
is simply skipped, so its parameters get no gradient on that step (their .grad stays None or
zero and AdamW skips them): normal for MoE routing. Noisy gating makes every expert get
tokens on some steps; the router learns through the gate probabilities that scale the outputs.
"""

import torch
from torch import nn


class MoE(nn.Module):
    def __init__(self, dim=16, n_experts=8, noise=1.0):
        super().__init__()
        self.noise = noise
        self.router = nn.Linear(dim, n_experts)
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, dim))
            for _ in range(n_experts)
        )

    def forward(self, x):
        logits = self.router(x)
        if self.training:  # noisy gating (Shazeer et al. 2017) spreads tokens over the experts
            logits = logits + torch.randn_like(logits) * self.noise
        probs = logits.softmax(dim=-1)
        gate, index = probs.max(dim=-1)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            mask = index == e
            if mask.any():
                out[mask] = gate[mask, None] * expert(x[mask])
        return out


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 16), MoE(), nn.Linear(16, 1))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
used = set()
for step in range(12):
    x = torch.randn(6, 16)  # 6 tokens, 8 experts: some experts get nothing
    y = x.sum(dim=1, keepdim=True)
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    used |= {e for e, ex in enumerate(model[1].experts) if ex[0].weight.grad is not None}
print("loss", loss.item(), "experts used over the run:", sorted(used))
