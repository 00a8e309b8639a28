"""The layout budget: SVGs of big graphs through the CLI, default options.

    .venv/bin/python benchmarks/layout_budget.py [--timeout 120] [--only KEY ...]

For each of the 10k-leaf wide graph, a 100,000-op chain and the 6-layer transformer (or the
graphs and real models named with ``--only``, any key of ``graphs.GRAPHS`` or ``models.MODELS``):
``gradviz run make_graph.py -o KEY.svg -- KEY``, wall time and exit code (each command killed,
with its `dot`, after ``--timeout`` seconds). For scale, ``python make_graph.py KEY`` alone (torch
import, building the graph, backward) is timed too. The budget is 20 s wall per SVG.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from clitools import HERE, fmt_mb, fmt_s, gradviz_exe, run, stack_limit

KEYS = ("wide-10k", "chain-1e5", "transformer-6")
CHOICES = (
    *KEYS,
    "mlp4",
    "resnet18",
    "vit-small",
    "gpt2",
    "bert",
    "llama",
    "gru",
    "lstm",
    "dense-block",
)
BUDGET_S = 20.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="per command, seconds")
    parser.add_argument("--only", nargs="+", choices=CHOICES, metavar="KEY")
    args = parser.parse_args(argv)

    gradviz, script = gradviz_exe(), str(HERE / "make_graph.py")
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-layout-"))
    print(f"RLIMIT_STACK (soft) of the commands: {stack_limit()}")
    rows = []
    for key in args.only or KEYS:
        svg = tmp / f"{key}.svg"
        plain = run([sys.executable, script, key], timeout=args.timeout)
        result = run([gradviz, "run", script, "-o", str(svg), "--", key], timeout=args.timeout)
        size = f"{svg.stat().st_size / 1024:,.0f} KiB" if svg.exists() else "no file"
        within = "yes" if result.ok and result.wall_s <= BUDGET_S else "no"
        rows.append(
            f"| {key} | {fmt_s(result.wall_s)} | {result.exit} | {within} | {size} | "
            f"{fmt_mb(result.peak_rss_mb)} | {fmt_s(plain.wall_s)} | {result.stderr_tail} |"
        )
        print(f"  {key}: {fmt_s(result.wall_s)}, exit {result.exit}", file=sys.stderr)
    print()
    print(
        f"| graph | `gradviz run -o KEY.svg` wall | exit | within {BUDGET_S:g} s | SVG | "
        "peak RSS | `python make_graph.py` alone | gradviz stderr (last lines) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---|")
    print("\n".join(rows))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
