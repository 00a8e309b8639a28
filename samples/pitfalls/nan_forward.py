"""Pitfall: a NaN born in the forward pass.

``log`` of a negative number is NaN; everything after it is NaN too, and anomaly mode would
only name the first NaN of backward. The doctor names the op and line that made it.

    gradviz doctor samples/pitfalls/nan_forward.py
"""

import torch

w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
x = torch.tensor([1.0, 2.0, 3.0])
z = w * x  # finite
h = torch.log(z)  # log(-2) is NaN
loss = (h * 2).sum()
loss.backward()
