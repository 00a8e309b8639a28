"""Whisper (transformers, tiny config, random weights) trained a few steps on speech-to-text.

Correct: log-mel features in, token labels out. Whisper's encoder keeps its sinusoidal
position embeddings frozen (requires_grad=False, set by transformers itself), which is by
design; proj_out is tied to the decoder's token embedding.
"""

import torch
from transformers import WhisperConfig, WhisperForConditionalGeneration

torch.manual_seed(0)
config = WhisperConfig(
    vocab_size=500,
    num_mel_bins=16,
    d_model=64,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=128,
    decoder_ffn_dim=128,
    max_source_positions=25,
    max_target_positions=32,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    decoder_start_token_id=1,
)
model = WhisperForConditionalGeneration(config)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
for step in range(3):
    input_features = torch.randn(2, 16, 50)  # 2 * max_source_positions frames
    labels = torch.randint(3, 500, (2, 10))
    loss = model(input_features=input_features, labels=labels).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
