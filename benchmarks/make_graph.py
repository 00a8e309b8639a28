"""Build one standard graph or real model and call backward on it: a script for `gradviz run`.

    gradviz run benchmarks/make_graph.py -o out.svg -- wide-10k
    gradviz run benchmarks/make_graph.py -o resnet.svg -- resnet18

Keys: see `graphs.GRAPHS` (chain-1e3 ... chain-1e6, mlp, cnn-bn, transformer-2, transformer-6,
doubling-40, wide-10k) and `models.MODELS` (mlp4, resnet18, vit-small, gpt2, bert, llama, gru,
lstm, dense-block) and `models.BIG` (gpt2-20, resnet50); the transformers models need the bench
extra. Plain torch: it runs the same under `python`.
"""

from __future__ import annotations

import sys

import graphs
import models

key = sys.argv[1] if len(sys.argv) > 1 else "chain-1e3"
models.NAMESPACE = globals()  # a real model is bound here as `model`: gradviz names it so
out, params = models.build(key) if key in {**models.MODELS, **models.BIG} else graphs.build(key)
out.backward()
