"""Lesson: the product rule, checked against autograd.

For y = x**2 * exp(x), calculus gives dy/dx = 2x*e^x + x**2*e^x.
``y.sum().backward()`` turns a vector y into a scalar, so x.grad holds
the elementwise derivative.

View the graph with:  gradviz run samples/exp_square.py -o exp_square.svg
"""

import torch

x = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
y = x**2 * torch.exp(x)  # two branches (x**2 and exp(x)) meet in a Mul
y.sum().backward()  # d(sum)/dy = 1 for every element

# The hand-derived answer (no_grad: we only want numbers, not a graph).
with torch.no_grad():
    expected = 2 * x * torch.exp(x) + x**2 * torch.exp(x)

print("x        :", [round(v, 4) for v in x.tolist()])
print("autograd :", [round(v, 4) for v in x.grad.tolist()])
print("by hand  :", [round(v, 4) for v in expected.tolist()])
print("match    :", torch.allclose(x.grad, expected))
