"""Fine-tuning only the classifier of a model whose backbone is frozen.

Correct: backbone.requires_grad_(False) says the backbone does not learn; the forward pass
still runs through it with grad mode on (no graph is recorded for its parameters since none
requires grad); the optimizer gets only the parameters that require grad.
"""

import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Linear(20, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(64, 3))

    def forward(self, x):
        return self.classifier(self.backbone(x))


torch.manual_seed(0)
model = Classifier()
model.backbone.requires_grad_(False)
optimizer = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
x = torch.randn(48, 20)
y = torch.randint(0, 3, (48,))
model.train()
for epoch in range(3):
    for xb, yb in zip(x.split(16), y.split(16)):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
print("loss", loss.item())
