"""Linear probe: a fixed backbone's features feed a trainable linear classifier.

Correct: the backbone runs under torch.no_grad() on purpose (it is never trained, and no graph
is kept for it); the optimizer holds only the head's parameters, and the loss's graph starts
at the head. The backbone's parameters still have requires_grad=True (a model loaded as is),
which is wasteful but not wrong: nothing ever reads their .grad.
"""

import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    nn.Flatten(),
)
backbone.eval()
head = nn.Linear(16, 10)
optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
images = torch.randn(32, 3, 16, 16)
labels = torch.randint(0, 10, (32,))

for epoch in range(5):
    for x, y in zip(images.split(8), labels.split(8)):
        with torch.no_grad():
            features = backbone(x)
        logits = head(features)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
print("loss", loss.item())
