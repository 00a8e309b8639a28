"""GPT-2 (transformers, a tiny config with random weights: 2 layers, width 64) trained for 60
AdamW steps on random tokens as a causal language model: plain torch, fixed seed.

The README's ``gradviz flow`` example: ``gradviz flow benchmarks/gpt2_train.py``.
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

STEPS = 60

torch.manual_seed(0)
config = GPT2Config(
    n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64, bos_token_id=0, eos_token_id=0
)
model = GPT2LMHeadModel(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
for step in range(STEPS):
    input_ids = torch.randint(0, 500, (4, 32))
    loss = model(input_ids=input_ids, labels=input_ids).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0 or step == STEPS - 1:
        print(f"step {step:2d}  loss {loss.item():.4f}")
