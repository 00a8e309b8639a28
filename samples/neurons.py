"""Lesson: the chain rule through a tiny five-neuron network.

    b = w1*a      c = w2*a      d = w3*b + w4*c      L = 10 - d

By hand: dL/dd = -1, so dL/dw3 = -b, dL/dw4 = -c,
dL/dw1 = -w3*a, dL/dw2 = -w4*a, dL/da = -(w3*w1 + w4*w2).
With a=2, w1=0.5, w2=-1.5, w3=3, w4=0.25: dL/dw1 = -6, dL/dw2 = -0.5, dL/dw3 = -1,
dL/dw4 = 3, dL/da = -1.125. The gradient reaches a along two paths: -1.5 through b
(dL/db = -3 times the local derivative db/da = w1 = 0.5) and 0.375 through c (dL/dc = -0.25
times dc/da = w2 = -1.5); they add up to -1.125. The picture labels each edge so.

View the graph with:  gradviz run samples/neurons.py -o neurons.svg
"""

import torch

# Scalar leaves: the input a and four weights.
a = torch.tensor(2.0, requires_grad=True)
w1 = torch.tensor(0.5, requires_grad=True)
w2 = torch.tensor(-1.5, requires_grad=True)
w3 = torch.tensor(3.0, requires_grad=True)
w4 = torch.tensor(0.25, requires_grad=True)

b = w1 * a  # 1
c = w2 * a  # -3
d = w3 * b + w4 * c  # 3 - 0.75 = 2.25
L = 10 - d  # 7.75

L.backward()

print(f"L = {L.item():g}")
for name, t in [("a", a), ("w1", w1), ("w2", w2), ("w3", w3), ("w4", w4)]:
    print(f"dL/d{name} = {t.grad.item():g}")
