"""What the doctor's forward watch costs, measured side by side in one process.

    .venv/bin/python benchmarks/doctor_overhead.py [--runs 5]

The 300-step MLP of `mlp_train.py` (run with runpy, prints discarded), as plain torch, inside
``capture(keep="first", source=True, modules=True)`` (what ``gradviz run`` does by default) and
inside ``capture(keep="first", source=True, modules=True, diagnose=True)`` (``gradviz doctor``):
CPU time of this process (run with OMP_NUM_THREADS=1), best of ``--runs``, interleaved, and the
ratios. Import and start-up are left out: they are
the same for all three and would only hide the difference on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import runpy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from graphviz_autograd import capture

SCRIPT = Path(__file__).resolve().parent / "mlp_train.py"


def train() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(str(SCRIPT), run_name="__main__")


def timed(make: Callable[[], Any]) -> float:
    started = time.process_time()  # CPU time: what a busy shared machine disturbs least
    with make():
        train()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    variants: list[tuple[str, Callable[[], Any]]] = [
        ("plain torch", contextlib.nullcontext),
        ("capture (gradviz run)", lambda: capture(keep="first", source=True, modules=True)),
        (
            "capture(diagnose=True) (gradviz doctor)",
            lambda: capture(keep="first", source=True, modules=True, diagnose=True),
        ),
    ]
    timed(contextlib.nullcontext)  # warm up
    walls: list[list[float]] = [[] for _ in variants]
    for _ in range(args.runs):
        for (_, make), runs in zip(variants, walls, strict=True):
            runs.append(timed(make))
    best = [min(runs) for runs in walls]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.runs}")
    print("| 300-step MLP loop | best CPU time | ÷ plain | runs |")
    print("|---|---:|---:|---|")
    for (title, _), runs, wall in zip(variants, walls, best, strict=True):
        listed = ", ".join(f"{r:.2f}" for r in runs)
        print(f"| {title} | {wall:.3f} s | {wall / best[0]:.2f}x | {listed} |")


if __name__ == "__main__":
    main()
