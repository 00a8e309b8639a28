# expect: not-in-optimizer line=30 fix~=optimizer
"""Bug: the classifier head is replaced after the optimizer was built.

The optimizer holds the parameters model.parameters() listed when it was made, among them the
old fc layer's; the new fc layer's parameters get gradients but no optimizer step ever updates
them (and the old ones, in the optimizer, get no gradient).
"""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.fc = nn.Linear(64, 1000)

    def forward(self, x):
        return self.fc(self.features(x))


torch.manual_seed(0)
model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
x = torch.randn(40, 20)
y = torch.randint(0, 5, (40,))

# adapt the pretrained model to 5 classes
model.fc = nn.Linear(64, 5)
for epoch in range(5):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
