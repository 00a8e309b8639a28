"""Pitfall: ``backward()`` on a tensor with more than one value.

Autograd needs a scalar, or ``gradient=`` with the tensor's shape: "grad can be implicitly
created only for scalar outputs".

    gradviz doctor samples/pitfalls/non_scalar.py
"""

import torch

w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
x = torch.tensor([1.0, 2.0, 3.0])
y = w * x
y.backward()  # y has 3 values: use y.sum().backward()
