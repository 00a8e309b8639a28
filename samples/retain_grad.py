"""Lesson: a non-leaf's gradient, through ``retain_grad()`` or a hook.

Backward keeps ``.grad`` for leaves only; ``h.retain_grad()`` keeps it for the non-leaf h too,
and ``g.register_hook(fn)`` calls fn with g's gradient as it passes. For loss = sum(h^2) with
h = 3w: dloss/dh = 2h, dloss/dw = 3 * 2h.

View the graph with:  gradviz run samples/retain_grad.py -o retain_grad.svg
"""

import torch

w = torch.tensor([1.0, 2.0], requires_grad=True)
h = w * 3  # non-leaf: [3, 6]
h.retain_grad()
g = h * h  # non-leaf
seen = []
g.register_hook(lambda grad: seen.append(grad.tolist()))
loss = g.sum()

loss.backward()
print(f"h.grad = {h.grad.tolist()}  (= 2h)")
print(f"gradient at g, seen by the hook = {seen[0]}")
print(f"w.grad = {w.grad.tolist()}  (= 3 * 2h)")
