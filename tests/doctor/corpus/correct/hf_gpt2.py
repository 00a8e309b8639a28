"""GPT-2 (transformers, built from a tiny config with random weights) trained a few steps as a
causal language model.

Correct: the usual fine-tuning loop (model.train(), AdamW, zero_grad / backward / clip / step).
GPT-2 ties lm_head.weight to wte.weight; the loss comes from labels=input_ids (the model shifts
them itself).
"""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
config = GPT2Config(
    n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64, bos_token_id=0, eos_token_id=0
)
model = GPT2LMHeadModel(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
for step in range(3):
    input_ids = torch.randint(0, 500, (2, 16))
    outputs = model(input_ids=input_ids, labels=input_ids)
    loss = outputs.loss
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
