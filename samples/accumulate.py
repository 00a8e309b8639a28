"""Lesson: gradients ACCUMULATE in ``.grad`` until you zero them.

We call ``backward()`` three times without ``zero_grad``, so ``w.grad``
goes g, 2g, 3g. Then we do one manual SGD step and reset the gradient.

View the graph with:  gradviz run samples/accumulate.py -o accumulate.svg
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0])  # inputs (no grad needed)
target = torch.tensor([2.0, 4.0, 6.0])  # the "right answer" is w = 2
w_init = 0.5
w = torch.tensor(w_init, requires_grad=True)  # the one trainable weight
lr = 0.01

grads = []  # w.grad after each backward call
for step in range(3):
    y = w * x  # forward pass (a fresh graph each time)
    loss = ((y - target) ** 2).mean()  # MSE loss
    loss.backward()  # ADDS d(loss)/dw into w.grad
    grads.append(w.grad.clone())  # clone: w.grad is updated in place
    print(f"after backward #{step + 1}: w.grad = {w.grad.item():.4f}")

# Manual update: no_grad so the update itself is not recorded in a graph.
with torch.no_grad():
    w -= lr * w.grad  # uses the accumulated 3g, not g!
    w.grad.zero_()  # reset, ready for the next step

print(f"after update: w = {w.item():.4f}, w.grad = {w.grad.item():.4f}")
