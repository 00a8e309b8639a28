"""A small language model whose output layer shares its weight with the input embedding.

Correct: lm_head.weight is embed.weight (one Parameter, as GPT-2 and T5 tie them); it gets two
gradient contributions per backward call (from the embedding lookup and from the output
projection), summed into one .grad within the same call. model.parameters() lists it once.
"""

import torch
from torch import nn


class TinyLM(nn.Module):
    def __init__(self, vocab=50, dim=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, ids):
        h, _ = self.rnn(self.embed(ids))
        return self.lm_head(h)


torch.manual_seed(0)
model = TinyLM()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
ids = torch.randint(0, 50, (8, 16))
for step in range(8):
    logits = model(ids[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("loss", loss.item())
