"""Lesson: ``backward(gradient=v)`` on a vector output: a vector-Jacobian product.

``y.backward()`` needs a scalar. For a vector y, ``y.backward(gradient=v)`` computes v^T J,
the gradient of sum(v * y). Here y = x^2, J = diag(2x), so x.grad = v * 2x.

View the graph with:  gradviz run samples/vector_backward.py -o vector_backward.svg
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x**2
v = torch.tensor([1.0, 0.1, 0.01])

y.backward(gradient=v)
print("x.grad =", [round(g, 4) for g in x.grad.tolist()], " (= v * 2x)")
