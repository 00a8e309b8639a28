# expect: nonfinite-forward line=56 fix~=log
"""Bug: a log-softmax written as log(softmax(x)) underflows to log(0) = -inf; before it, a
harmless log(0) of T5-style relative position buckets.

relative_position_bucket() takes torch.log of relative distances as T5 does: the distance 0
gives -inf on an integer-derived tensor that needs no grad, and torch.where throws it away.
That one is by design. The bug comes later: the attention logits are sharp (temperature 0.01),
softmax gives exact zeros, and torch.log(probs) is -inf where the loss reads it. The fix: use
log_softmax (or clamp the probabilities before the log).
"""

import math

import torch
from torch import nn


def relative_position_bucket(relative_position, num_buckets=16, max_distance=32):
    num_buckets //= 2
    buckets = (relative_position > 0).long() * num_buckets
    n = relative_position.abs()
    max_exact = num_buckets // 2
    is_small = n < max_exact
    val_if_large = (
        max_exact
        + (
            torch.log(n.float() / max_exact)
            / math.log(max_distance / max_exact)
            * (num_buckets - max_exact)
        ).long()
    )
    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    return buckets + torch.where(is_small, n, val_if_large)


class Attention(nn.Module):
    def __init__(self, dim=16, num_buckets=16):
        super().__init__()
        self.qk = nn.Linear(dim, 2 * dim)
        self.bias = nn.Embedding(num_buckets, 1)
        self.out = nn.Linear(dim, 4)

    def forward(self, x, temperature):
        q, k = self.qk(x).chunk(2, dim=-1)
        pos = torch.arange(x.size(1))
        bucket = relative_position_bucket(pos[None, :] - pos[:, None])
        scores = q @ k.transpose(-1, -2) + self.bias(bucket).squeeze(-1)
        probs = torch.softmax(scores / temperature, dim=-1)
        return probs, self.out(probs @ x)


torch.manual_seed(0)
model = Attention()
x = torch.randn(2, 10, 16) * 3
probs, logits = model(x, temperature=0.01)
log_probs = torch.log(probs)
entropy = -(probs * log_probs).sum(-1).mean()
loss = (
    nn.functional.cross_entropy(logits.reshape(-1, 4), torch.randint(0, 4, (20,))) - 0.1 * entropy
)
loss.backward()
print("loss", loss.item())
