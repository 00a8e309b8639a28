"""What `gradviz run` costs on top of `python`: a 300-step MLP training, and a 1M-op chain.

    .venv/bin/python benchmarks/capture_overhead.py [--runs 3] [--skip-chain]

1. ``python mlp_train.py`` against ``gradviz run mlp_train.py -o /tmp/x.dot`` (default options)
   and ``gradviz doctor mlp_train.py``, wall time of each through subprocess, best of ``--runs``
   (interleaved), and the ratios.
2. ``gradviz run make_graph.py -o x.dot -- chain-1e6``: a script building a 1,000,000-op chain
   and calling backward on it; exit code, wall time and peak RSS.

The commands inherit this process's stack limit, as a user's shell would give it (printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from clitools import HERE, fmt_mb, fmt_s, gradviz_exe, run, stack_limit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (best kept)")
    parser.add_argument("--skip-chain", action="store_true", help="skip the 1M-op chain")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per command, seconds")
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="set OMP_NUM_THREADS=N for every command (default: inherit); on a small shared "
        "machine 1 makes the MLP timings far less noisy",
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    gradviz, python = gradviz_exe(), sys.executable
    script = str(HERE / "mlp_train.py")
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-bench-"))
    threads = os.environ.get("OMP_NUM_THREADS", "not set")
    print(f"RLIMIT_STACK (soft) of the commands: {stack_limit()}; OMP_NUM_THREADS: {threads}")

    commands = [
        ("`python mlp_train.py`", [python, script]),
        ("`gradviz run mlp_train.py -o x.dot`", [gradviz, "run", script, "-o", str(tmp / "x.dot")]),
        (
            "`gradviz run mlp_train.py -o x.dot --no-source`",
            [gradviz, "run", script, "-o", str(tmp / "y.dot"), "--no-source"],
        ),
        ("`gradviz doctor mlp_train.py`", [gradviz, "doctor", script]),
    ]
    walls: list[list[float]] = [[] for _ in commands]
    for i in range(args.runs):  # interleaved, so a busy moment hurts all alike
        for (_, cmd), runs in zip(commands, walls, strict=True):
            result = run(cmd, timeout=args.timeout)
            if not result.ok:
                print(f"FAILED: {' '.join(cmd)}: exit {result.exit}: {result.stderr_tail}")
                return 1
            runs.append(result.wall_s)
        print(f"  run {i + 1}: " + ", ".join(fmt_s(runs[-1]) for runs in walls))
    best = [min(runs) for runs in walls]
    print()
    print("| 300-step MLP training | best wall | ÷ python | runs |")
    print("|---|---:|---:|---|")
    for (title, _), runs, wall in zip(commands, walls, best, strict=True):
        print(
            f"| {title} | {fmt_s(wall)} | {wall / best[0]:.2f}x | {', '.join(map(fmt_s, runs))} |"
        )
    print()
    print(
        f"capture overhead, default options (source lines on): {best[1] / best[0]:.2f}x "
        f"(+{best[1] - best[0]:.2f} s); with --no-source: {best[2] / best[0]:.2f}x; budget 1.5x"
    )
    print(
        f"gradviz doctor (forward watch on every torch call): {best[3] / best[0]:.2f}x; goal 1.5x"
    )

    if not args.skip_chain:
        out = tmp / "chain.dot"
        cmd = [gradviz, "run", str(HERE / "make_graph.py"), "-o", str(out), "--", "chain-1e6"]
        print()
        print("1,000,000-op chain: gradviz run make_graph.py -o chain.dot -- chain-1e6")
        plain_chain = run([python, str(HERE / "make_graph.py"), "chain-1e6"], timeout=args.timeout)
        print(
            f"  for scale, python make_graph.py chain-1e6 alone: exit {plain_chain.exit}, wall "
            f"{fmt_s(plain_chain.wall_s)}, peak RSS {fmt_mb(plain_chain.peak_rss_mb)}"
        )
        result = run(cmd, timeout=args.timeout)
        size = f"{out.stat().st_size / 2**20:,.0f} MiB" if out.exists() else "no file"
        print(
            f"  exit {result.exit}, wall {fmt_s(result.wall_s)}, peak RSS "
            f"{fmt_mb(result.peak_rss_mb)}, output {size}"
        )
        if result.stderr_tail:
            print(f"  stderr: {result.stderr_tail}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
