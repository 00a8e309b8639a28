"""A whole run on one page: what recording every call costs, holds and writes.

    .venv/bin/python benchmarks/run_history.py [--rounds 5] [--long 10000] [--skip-long]

1. Cost: ``python mlp_train.py`` (300 SGD steps of an MLP) against ``gradviz run mlp_train.py
   --call all -o run.html`` and ``gradviz flow mlp_train.py``, in alternating rounds; the
   median wall time of each and its ratio to python (in brackets the median of the per-round
   ratios).
2. Long runs: ``long_run.py`` (a ResNet-18-shaped model, 250 nodes a step) for 300 and
   ``--long`` steps, under ``python`` and under ``gradviz run --call all -o run.html``: peak
   RSS of each and the difference (what gradviz holds beyond the script), the page's size and
   the time Chromium takes to open it (``body[data-state=ready]``) when Playwright is there.

Every command runs with OMP_NUM_THREADS=1 unless ``--threads`` says otherwise: on a small shared
machine torch's second thread makes the ratios swing with whatever else runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from clitools import HERE, gradviz_exe, run

CHROMIUM = "/usr/bin/chromium"


def _open_seconds(page_path: Path) -> float | None:
    """Seconds from navigation to the page's first picture in headless Chromium, or None."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            started = time.perf_counter()
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-state=ready]", timeout=120_000)
            return time.perf_counter() - started
        finally:
            browser.close()


def cost(rounds: int, tmp: Path) -> None:
    gradviz, python, script = gradviz_exe(), sys.executable, str(HERE / "mlp_train.py")
    commands = {
        "`python mlp_train.py`": [python, script],
        "`gradviz run mlp_train.py --call all -o run.html`": [
            gradviz,
            "run",
            script,
            "--call",
            "all",
            "-o",
            str(tmp / "run.html"),
        ],
        "`gradviz flow mlp_train.py`": [gradviz, "flow", script],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            done = run(cmd, timeout=600)
            if not done.ok:
                sys.exit(f"{name} failed: {done.exit}: {done.stderr_tail}")
            times[name].append(done.wall_s)
    plain = times["`python mlp_train.py`"]
    print(f"\n{rounds} alternating rounds, median wall time (ratio to python; median of ratios)\n")
    print("| command | wall | ÷ python |")
    print("|---|---:|---:|")
    for name, walls in times.items():
        ratios = [w / p for w, p in zip(walls, plain, strict=True)]
        print(
            f"| {name} | {statistics.median(walls):.2f} s | "
            f"{statistics.median(walls) / statistics.median(plain):.2f}× "
            f"({statistics.median(ratios):.2f}×) |"
        )


def long_runs(steps: list[int], tmp: Path) -> None:
    gradviz, python, script = gradviz_exe(), sys.executable, str(HERE / "long_run.py")
    print(
        "\n| steps | python | peak RSS | gradviz run --call all -o run.html | peak RSS | "
        "beyond the script | page | open in Chromium |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in steps:
        page = tmp / f"run-{count}.html"
        plain = run([python, script, str(count)], timeout=7200)
        under = run(
            [gradviz, "run", script, "--call", "all", "-o", str(page), "--", str(count)],
            timeout=7200,
        )
        if not (plain.ok and under.ok):
            sys.exit(f"{count} steps failed: {plain.exit} / {under.exit}: {under.stderr_tail}")
        opened = _open_seconds(page)
        beyond = (under.peak_rss_mb or 0) - (plain.peak_rss_mb or 0)
        print(
            f"| {count:,} | {plain.wall_s:.1f} s | {plain.peak_rss_mb:.0f} MB | "
            f"{under.wall_s:.1f} s | {under.peak_rss_mb:.0f} MB | {beyond:.0f} MB | "
            f"{page.stat().st_size / 1e6:.1f} MB | "
            f"{'—' if opened is None else f'{opened:.1f} s'} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of the cost")
    parser.add_argument("--long", type=int, default=10_000, help="steps of the long run")
    parser.add_argument("--skip-long", action="store_true", help="only the cost")
    parser.add_argument("--skip-cost", action="store_true", help="only the long runs")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS (0: inherit)")
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-history-"))
    print(f"OMP_NUM_THREADS: {os.environ.get('OMP_NUM_THREADS', 'not set')}; pages in {tmp}")
    if not args.skip_cost:
        cost(args.rounds, tmp)
    if not args.skip_long:
        long_runs([300, args.long], tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
