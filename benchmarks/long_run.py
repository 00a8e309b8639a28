"""A ResNet-18-shaped model (basic blocks [2, 2, 2, 2], narrow: 8-64 channels) trained with SGD
for N steps on one 3x32x32 image: a long run whose graph has ResNet-18's size and shape.

    python long_run.py [STEPS]          (default 10,000)

The workload of `run_history.py`'s memory and page-size figures.
"""

from __future__ import annotations

import sys

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + self.down(x))


class ResNet18(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 64), classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        layers, cin = [], widths[0]
        for k, width in enumerate(widths):
            layers += [Block(cin, width, 1 if k == 0 else 2), Block(width, width, 1)]
            cin = width
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)).mean(dim=(2, 3)))


steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
torch.manual_seed(0)
model = ResNet18()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.randn(1, 3, 32, 32), torch.tensor([3])
for step in range(steps):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    if step % 1000 == 0 or step == steps - 1:
        print(f"step {step:5d}  loss {loss.item():.4f}")
