"""Truncated backpropagation through time over a long sequence, in chunks of 10 steps.

Correct: the hidden state carries over from chunk to chunk, but h = h.detach() cuts the
graph at each chunk boundary, so each backward call runs only through its own
chunk and never through a graph an earlier call freed.
"""

import torch
from torch import nn


class CharRNN(nn.Module):
    def __init__(self, vocab=30, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        h, state = self.rnn(self.embed(x), state)
        return self.out(h), state


torch.manual_seed(0)
model = CharRNN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
text = torch.randint(0, 30, (4, 101))
bptt = 10
h = torch.zeros(1, 4, 32)
for epoch in range(2):
    for i in range(0, text.size(1) - 1, bptt):
        inputs, targets = text[:, i : i + bptt], text[:, i + 1 : i + 1 + bptt]
        h = h.detach()
        logits, h = model(inputs, h)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 30), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
print("loss", loss.item())
