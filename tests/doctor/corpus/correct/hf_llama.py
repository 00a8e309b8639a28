"""Llama (transformers, tiny config with grouped-query attention, random weights) trained a few
steps as a causal language model.

Correct: the standard loop; padding on the right is masked in attention_mask and its labels are
-100, so padded positions neither attend nor count in the loss.
"""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(
    vocab_size=500,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)
model = LlamaForCausalLM(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.1)
for step in range(3):
    input_ids = torch.randint(1, 500, (2, 16))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 12:] = 0
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
