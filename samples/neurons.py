"""Lesson: the chain rule through a tiny five-neuron network.

    b = w1*a      c = w2*a      d = w3*b + w4*c      L = 10 - d

By hand: dL/dd = -1, so dL/dw3 = -b, dL/dw4 = -c,
dL/dw1 = -w3*a, dL/dw2 = -w4*a, dL/da = -(w3*w1 + w4*w2).

View the graph with:  gradviz run samples/neurons.py -o neurons.svg
"""

import torch

# Scalar leaves: the input a and four weights.
a = torch.tensor(2.0, requires_grad=True)
w1 = torch.tensor(3.0, requires_grad=True)
w2 = torch.tensor(-1.0, requires_grad=True)
w3 = torch.tensor(0.5, requires_grad=True)
w4 = torch.tensor(2.0, requires_grad=True)

b = w1 * a  # 6
c = w2 * a  # -2
d = w3 * b + w4 * c  # 3 - 4 = -1
L = 10 - d  # 11

L.backward()

print(f"L = {L.item():.1f}")
for name, t in [("a", a), ("w1", w1), ("w2", w2), ("w3", w3), ("w4", w4)]:
    print(f"dL/d{name} = {t.grad.item():.1f}")
