"""Not a bug, worth knowing: frozen parameters (``requires_grad=False``) get no gradient.

Fine-tuning freezes the backbone on purpose; the doctor lists frozen parameters as info.

    gradviz doctor samples/pitfalls/frozen.py
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
for p in model[0].parameters():  # freeze the first layer
    p.requires_grad_(False)

x, y = torch.randn(16, 4), torch.randn(16, 1)
loss = nn.functional.mse_loss(model(x), y)
loss.backward()
