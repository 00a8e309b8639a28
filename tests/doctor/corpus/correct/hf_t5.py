"""T5 (transformers, tiny config, random weights) trained a few steps on a seq2seq task.

Correct: labels make the model shift them into decoder inputs itself. T5's relative position
buckets take torch.log of relative distances, which is log(0) = -inf for a token's distance to
itself; that value is on an integer-derived tensor that needs no grad and is discarded by
torch.where (the exact buckets are used for small distances): harmless by design.
"""

import torch
from transformers import T5Config, T5ForConditionalGeneration

torch.manual_seed(0)
config = T5Config(
    vocab_size=500,
    d_model=64,
    d_kv=16,
    d_ff=128,
    num_layers=2,
    num_decoder_layers=2,
    num_heads=4,
    relative_attention_num_buckets=8,
    decoder_start_token_id=0,
    pad_token_id=0,
)
model = T5ForConditionalGeneration(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for step in range(3):
    input_ids = torch.randint(1, 500, (2, 12))
    labels = torch.randint(1, 500, (2, 8))
    loss = model(input_ids=input_ids, labels=labels).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
