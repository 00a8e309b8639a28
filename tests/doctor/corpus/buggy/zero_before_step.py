# expect: zeroed-before-step line=22 fix~=zero_grad
"""Bug: optimizer.zero_grad() sits between loss.backward() and optimizer.step().

The gradients backward just computed are wiped before the step reads them: the step sees
zeros (SGD without momentum changes nothing; here momentum and weight decay still move the
weights, but never along the loss's gradient), so the model never learns.
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(64, 10)
y = torch.randint(0, 3, (64,))
for epoch in range(5):
    for xb, yb in zip(x.split(16), y.split(16)):
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits, yb)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
