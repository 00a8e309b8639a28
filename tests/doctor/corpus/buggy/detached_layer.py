# expect: detached line=21 fix~=detach
"""Bug: a .detach() cuts the encoder off the loss.

The author detached the encoder's output to log it and kept using the detached tensor: the
encoder's parameters are in the optimizer but no gradient ever reaches them.
"""

import torch
from torch import nn


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(20, 8), nn.Tanh())
        self.decoder = nn.Linear(8, 20)
        self.codes = []

    def forward(self, x):
        z = self.encoder(x)
        z = z.detach()
        self.codes.append(z)
        return self.decoder(z)


torch.manual_seed(0)
model = AutoEncoder()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(32, 20)
for step in range(5):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(x), x)
    loss.backward()
    optimizer.step()
print("loss", loss.item())
