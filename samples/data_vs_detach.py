"""Lesson: ``.detach()`` and ``.data`` both give a tensor outside the graph, sharing memory.

Both cut the graph: ``loss`` below sees ``d`` as a constant, so w.grad = 2w from ``w * w``
only. The difference: changing ``.detach()``'s result in place is caught by autograd when the
graph needs the old value; changing ``.data`` is not, and silently gives wrong gradients.

View the graph with:  gradviz run samples/data_vs_detach.py -o data_vs_detach.svg
"""

import torch

w = torch.tensor(3.0, requires_grad=True)
d = w.detach()  # shares w's memory, requires_grad=False
loss = w * w + d  # dloss/dw = 2w = 6: d is a constant

loss.backward()
print(f"d.requires_grad = {d.requires_grad}, w.grad = {w.grad.item():g}")

# In place on .data: autograd does not notice, and the gradient is computed from the new value.
a = torch.tensor(2.0, requires_grad=True)
b = a.exp()  # saves its result for backward
b.data.mul_(0)  # the saved exp(2) becomes 0, unnoticed
b.backward()
print(f"after b.data.mul_(0): a.grad = {a.grad.item():g} (exp(2) = 7.389 was right)")
