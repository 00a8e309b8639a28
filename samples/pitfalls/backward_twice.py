"""Pitfall: calling backward twice through one graph.

The first ``backward()`` frees the tensors the graph saved; the second fails with "Trying to
backward through the graph a second time".

    gradviz doctor samples/pitfalls/backward_twice.py
"""

import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x.exp()  # ExpBackward0 saves its output
loss = y.sum()
loss.backward()
loss.backward()  # fails: the graph was freed by the first call
