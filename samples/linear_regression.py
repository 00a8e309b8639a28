"""Lesson: a training loop by hand (forward, backward, update, zero).

We fit y = w*x + b to points from y = 2x + 3 (plus tiny noise) using plain
gradient descent: the update runs under no_grad and the grads are zeroed
every epoch. The last epoch's ``loss`` stays a module global.

View the graph with:  gradviz run samples/linear_regression.py -o linear_regression.svg
"""

import torch

torch.manual_seed(0)
x = torch.linspace(-1.0, 1.0, 10)
y_true = 2 * x + 3 + 0.01 * torch.randn(10)  # data from y = 2x + 3

w = torch.tensor(0.0, requires_grad=True)
b = torch.tensor(0.0, requires_grad=True)
lr = 0.2
epochs = 50

losses = []  # loss value per epoch
for epoch in range(epochs):
    y_pred = w * x + b
    loss = ((y_pred - y_true) ** 2).mean()  # MSE
    loss.backward()
    with torch.no_grad():  # the update is not part of the graph
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()  # otherwise gradients would accumulate
    b.grad.zero_()
    losses.append(loss.item())
    if epoch % 10 == 0 or epoch == epochs - 1:
        print(f"epoch {epoch:2d}: loss = {loss.item():.6f}")

print(f"learned w = {w.item():.3f}, b = {b.item():.3f}  (true: 2, 3)")
