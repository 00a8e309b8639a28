# expect: no-graph line=26|28 fix~=no_grad
"""Bug: the forward pass and the loss are computed inside `with torch.no_grad():`.

The block was copied from the evaluation loop; under no_grad nothing records a graph, so
loss.backward() fails with "element 0 of tensors does not require grad and does not have a
grad_fn". The fix is to compute the training forward pass outside torch.no_grad().
"""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x_val, y_val = torch.randn(16, 12), torch.randn(16, 1)
x_train, y_train = torch.randn(64, 12), torch.randn(64, 1)

model.eval()
with torch.no_grad():
    val_loss = nn.functional.mse_loss(model(x_val), y_val)
print(f"val loss before training {val_loss.item():.4f}")

model.train()
for xb, yb in zip(x_train.split(16), y_train.split(16)):
    optimizer.zero_grad()
    with torch.no_grad():
        pred = model(xb)
        loss = nn.functional.mse_loss(pred, yb)
    loss.backward()
    optimizer.step()
