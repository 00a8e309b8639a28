"""Lesson: only tensors with ``requires_grad=True`` get a ``.grad``.

z = w*x + b where x is plain data. After backward:
  x.grad is None   (autograd never tracked x)
  w.grad == x      (dz/dw = x)
  b.grad == 1      (dz/db = 1, for every element)

View the graph with:  gradviz run samples/no_grad_input.py -o no_grad_input.svg
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0])  # data: requires_grad is False
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)  # parameters
b = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)

z = w * x + b
loss = z.sum()  # backward() needs a scalar
loss.backward()

print("x.grad =", x.grad)
print("w.grad =", w.grad.tolist(), "(equals x)")
print("b.grad =", b.grad.tolist(), "(all ones)")
