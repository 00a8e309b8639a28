"""WGAN-GP (Gulrajani et al. 2017): a critic trained with a gradient penalty.

Correct: the penalty needs the gradient of the critic's output with respect to interpolated
samples, taken with torch.autograd.grad(..., create_graph=True) so that the penalty itself can
be differentiated (a double backward through the critic). The critic takes n_critic steps per
generator step; each optimizer zeroes its own model's gradients before its backward call.
"""

import torch
from torch import autograd, nn

torch.manual_seed(0)
dim, noise_dim, lam, n_critic = 8, 4, 10.0, 3
G = nn.Sequential(nn.Linear(noise_dim, 32), nn.ReLU(), nn.Linear(32, dim))
D = nn.Sequential(
    nn.Linear(dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1)
)
opt_G = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
opt_D = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))


def gradient_penalty(D, real, fake):
    alpha = torch.rand(real.size(0), 1)
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    d_interpolates = D(interpolates)
    gradients = autograd.grad(
        outputs=d_interpolates,
        inputs=interpolates,
        grad_outputs=torch.ones_like(d_interpolates),
        create_graph=True,
        retain_graph=True,
    )[0]
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


for it in range(4):
    for _ in range(n_critic):
        real = torch.randn(16, dim) + 2.0
        fake = G(torch.randn(16, noise_dim)).detach()
        opt_D.zero_grad()
        d_loss = D(fake).mean() - D(real).mean() + lam * gradient_penalty(D, real, fake)
        d_loss.backward()
        opt_D.step()
    opt_G.zero_grad()
    g_loss = -D(G(torch.randn(16, noise_dim))).mean()
    g_loss.backward()
    opt_G.step()
    print(f"it {it}: d_loss {d_loss.item():.4f} g_loss {g_loss.item():.4f}")
