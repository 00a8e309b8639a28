"""A small GPT-2 trained for 60 steps with AdamW: the run that docs/images/run-*.png show.

Lesson: the gradients of a transformer change as it trains. The page of the whole run steps
through every backward call: the step control (or the arrow keys) moves the shading, the labels
and the details panel; "gradient flow" shows each layer's gradient norm over the steps.

    gradviz run benchmarks/gpt2_train.py --call all -o gpt2-run.html
    gradviz flow benchmarks/gpt2_train.py -o docs/images/flow-gpt2.svg   (the README's table)

Needs `transformers` (`pip install transformers`); random weights, nothing is downloaded.
"""

import sys

import torch

try:
    from transformers import GPT2Config, GPT2LMHeadModel
except ImportError:
    sys.exit("this sample needs transformers: pip install transformers")

torch.manual_seed(0)
config = GPT2Config(
    n_layer=4, n_embd=64, n_head=2, vocab_size=100, n_positions=32, bos_token_id=0, eos_token_id=0
)
model = GPT2LMHeadModel(config)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
tokens = torch.randint(0, config.vocab_size, (8, 16))  # one batch, learned by heart

for step in range(60):
    loss = model(tokens, labels=tokens).loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0 or step == 59:
        print(f"step {step + 1}: loss {loss.item():.3f}")
