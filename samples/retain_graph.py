"""Lesson: backward frees the graph; ``retain_graph=True`` keeps it for a second backward.

The first backward keeps the graph, so the second can run through it again: the gradients of
both add up in ``x.grad`` (2 * 3x^2 = 24 at x = 2). A third backward without retain_graph on a
freed graph would raise "Trying to backward through the graph a second time".

View the graph with:  gradviz run samples/retain_graph.py -o retain_graph.svg
"""

import torch

x = torch.tensor(2.0, requires_grad=True)
y = x**3  # dy/dx = 3x^2 = 12

y.backward(retain_graph=True)  # the graph survives this call
print(f"after the first backward: x.grad = {x.grad.item():g}")
y.backward()  # ... so this one can use it; it frees it
print(f"after the second: x.grad = {x.grad.item():g}")
try:
    y.backward()
except RuntimeError as exc:
    print(f"a third: RuntimeError: {str(exc).split('.')[0]}")
