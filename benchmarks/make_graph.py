"""Build one standard graph and call backward on it: a script for `gradviz run`.

    gradviz run benchmarks/make_graph.py -o out.svg -- wide-10k

Keys: see `graphs.GRAPHS` (chain-1e3 ... chain-1e6, mlp, cnn-bn, transformer-2, transformer-6,
doubling-40, wide-10k). Plain torch: it runs the same under `python`.
"""

from __future__ import annotations

import sys

from graphs import build

out, params = build(sys.argv[1] if len(sys.argv) > 1 else "chain-1e3")
out.backward()
