"""ViT (transformers, tiny config, random weights) trained a few steps on image classification.

Correct: pixel values and labels in, .loss out; ViTForImageClassification has no pooler and
no mask token by default, so every parameter gets a gradient.
"""

import torch
from transformers import ViTConfig, ViTForImageClassification

torch.manual_seed(0)
config = ViTConfig(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    image_size=32,
    patch_size=8,
    num_labels=10,
)
model = ViTForImageClassification(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for step in range(3):
    pixel_values = torch.randn(4, 3, 32, 32)
    labels = torch.randint(0, 10, (4,))
    loss = model(pixel_values=pixel_values, labels=labels).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
