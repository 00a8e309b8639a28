"""Pitfall: a finite forward pass with a NaN gradient.

The distance between two equal points is 0, and the slope of ``sqrt`` at 0 is infinite:
backward turns it into NaN (0 * inf) although every forward value is finite.

    gradviz doctor samples/pitfalls/nan_grad.py
"""

import torch

a = torch.tensor([1.0, 2.0], requires_grad=True)
b = torch.tensor([1.0, 2.0])
squared = ((a - b) ** 2).sum()
distance = squared.sqrt()  # sqrt(0): infinite slope
distance.backward()
