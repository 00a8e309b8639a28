"""Lesson: ``torch.no_grad()`` and ``torch.set_grad_enabled(False)`` record no graph.

Inside them an op's result does not require grad, so its inputs get no gradient through it:
``u`` counts in ``loss`` as a constant. ``set_grad_enabled(True)`` turns recording back on.

View the graph with:  gradviz run samples/no_grad.py -o no_grad.svg
"""

import torch

w = torch.tensor(3.0, requires_grad=True)
with torch.no_grad():
    u = w * 2  # a constant 6: no grad_fn
with torch.set_grad_enabled(False):
    v = w * 5  # also a constant
with torch.set_grad_enabled(True):
    y = w * w  # recorded: dy/dw = 2w = 6
loss = y + u + v  # dloss/dw = 6 (u and v are constants)

loss.backward()
print(f"u.requires_grad = {u.requires_grad}, v.requires_grad = {v.requires_grad}")
print(f"w.grad = {w.grad.item():g}")
