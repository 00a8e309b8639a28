"""Pitfall: reading ``.grad`` of a tensor that is not a leaf.

Only leaves (tensors you created with ``requires_grad=True``, parameters) keep ``.grad``;
``h.grad`` stays None unless ``h.retain_grad()`` was called before backward.

    gradviz doctor samples/pitfalls/non_leaf_grad.py
"""

import torch

w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
h = w * 3  # not a leaf
loss = (h**2).sum()
loss.backward()
print("w.grad =", w.grad)
print("h.grad =", h.grad)  # None, with a UserWarning
