"""Gradient flow through an MLP: where does the gradient shrink?

Lesson: backward runs the graph in reverse, and each op passes on a gradient with respect to its
output. A non-leaf tensor's gradient is gone after backward unless you call `retain_grad()`;
gradviz records it at every node anyway, with no change to this script.

    gradviz run samples/gradient_flow.py -o gradient_flow.svg --show-order

Ops are shaded by the norm of their gradient (log scale): with a small init and tanh, the
gradient fades on its way from the loss back to the first layer.
"""

import torch

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(8, 16),
    torch.nn.Tanh(),
    torch.nn.Linear(16, 16),
    torch.nn.Tanh(),
    torch.nn.Linear(16, 16),
    torch.nn.Tanh(),
    torch.nn.Linear(16, 1),
)
with torch.no_grad():
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            layer.weight.mul_(0.3)  # a small init makes the fading easy to see

x = torch.randn(32, 8)
target = torch.randn(32, 1)
loss = torch.nn.functional.mse_loss(model(x), target)
loss.backward()

for name, p in model.named_parameters():
    if name.endswith("weight"):
        print(f"{name:9} grad norm {p.grad.norm():.2e}")
