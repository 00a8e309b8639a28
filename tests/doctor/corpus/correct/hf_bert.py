"""BERT (transformers, tiny config, random weights) trained a few steps on masked language
modelling.

Correct: 15% of the tokens are replaced by [MASK] and only they carry a label; the others are
-100, which cross-entropy ignores. BertForMaskedLM has no pooler, so every parameter is used.
"""

import torch
from transformers import BertConfig, BertForMaskedLM

torch.manual_seed(0)
config = BertConfig(
    vocab_size=500,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    max_position_embeddings=64,
)
model = BertForMaskedLM(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
mask_token_id = 3
for step in range(3):
    input_ids = torch.randint(5, 500, (2, 16))
    attention_mask = torch.ones_like(input_ids)
    labels = input_ids.clone()
    masked = torch.rand(input_ids.shape) < 0.15
    masked[:, 1] = True  # at least one masked token per row
    labels[~masked] = -100
    input_ids[masked] = mask_token_id
    loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    print(f"step {step}: loss {loss.item():.4f}")
