# expect: backward-twice line=36 fix~=detach
"""Bug: truncated BPTT without detaching the hidden state between chunks.

The hidden state h carries the graph of the previous chunk; the first backward call freed
that graph, so the second chunk's backward runs into it and fails with "Trying to backward
through the graph a second time". The fix is h = h.detach() at each chunk boundary.
"""

import torch
from torch import nn


class CharRNN(nn.Module):
    def __init__(self, vocab=30, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, h):
        y, h = self.rnn(self.embed(x), h)
        return self.out(y), h


torch.manual_seed(0)
model = CharRNN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
text = torch.randint(0, 30, (4, 101))
bptt = 10
h = torch.zeros(1, 4, 32)
for i in range(0, text.size(1) - 1, bptt):
    inputs, targets = text[:, i : i + bptt], text[:, i + 1 : i + 1 + bptt]
    logits, h = model(inputs, h)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 30), targets.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
