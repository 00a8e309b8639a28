"""Lesson: leaves and non-leaves, and how ``requires_grad`` spreads.

A tensor you create is a leaf. An op's result requires grad when any of its inputs does, and
is a non-leaf with a ``grad_fn``; after backward only leaves that require grad keep ``.grad``.

View the graph with:  gradviz run samples/leaf_vs_nonleaf.py -o leaf_vs_nonleaf.svg
"""

import torch

w = torch.tensor([1.0, -2.0], requires_grad=True)  # a leaf that requires grad
x = torch.tensor([3.0, 4.0])  # a leaf that does not
h = w * x  # requires grad because w does: a non-leaf, with a grad_fn
out = h.sum()

out.backward()

for name, t in [("w", w), ("x", x), ("h", h)]:
    kind = "leaf" if t.is_leaf else "non-leaf"
    print(f"{name}: {kind}, requires_grad={t.requires_grad}, grad_fn={type(t.grad_fn).__name__}")
print(f"w.grad = {w.grad.tolist()}  (= x), x.grad = {x.grad}")
