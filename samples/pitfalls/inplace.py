"""Pitfall: modifying in place a tensor that backward needs.

``exp`` saves its output for backward; ``y += 1`` changes it, so backward fails with "one of
the variables needed for gradient computation has been modified by an inplace operation".

    gradviz doctor samples/pitfalls/inplace.py
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x.exp()  # saves y for backward
y += 1  # in place: y is now at version 1
loss = y.sum()
loss.backward()
