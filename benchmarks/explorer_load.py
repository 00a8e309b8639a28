"""The explorer on big graphs: page size, time to write it, and time to open it in Chromium.

    .venv/bin/python benchmarks/explorer_load.py [--only KEY ...] [--shots DIR]

For each graph (captured as `gradviz run` captures it: gradients, modules, source lines), the
page is written with `to_html` and opened from disk in headless Chromium (Playwright, the Debian
``/usr/bin/chromium``). "open" is from navigation to the first picture drawn
(``body[data-state=ready]``); "unfold" is one click that lays the graph out again: the first ×N
node's unfold for folded graphs, the first folded module opened for models. ResNet-18 needs the
bench extra (transformers). ``transformer-6-flat`` is captured without modules: all 455 nodes
are drawn at once. The budget is 10 s to open.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphs
import models

from graphviz_autograd import capture
from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.transform.fold import fold

KEYS = ("wide-10k", "transformer-6", "transformer-6-flat", "resnet18", "chain-1e5")
BUDGET_S = 10.0
CHROMIUM = "/usr/bin/chromium"


def captured(key: str) -> Any:
    """The graph of ``key``; ``KEY-flat``: without modules, so that every node is drawn."""
    flat = key.endswith("-flat")
    key = key.removesuffix("-flat")
    with capture(modules=not flat, source=True) as cap:
        out, _ = models.build(key) if key in models.MODELS else graphs.build(key)
        out.backward()
    return cap.calls[0].graph


def relayout(page: Any, action: Callable[[], object]) -> float:
    before = int(page.get_attribute("body", "data-layouts") or 0)
    started = time.perf_counter()
    action()
    page.wait_for_selector(f"body[data-layouts='{before + 1}'][data-state=ready]", timeout=60_000)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=KEYS, metavar="KEY")
    parser.add_argument("--shots", type=Path, help="save a PNG of each page here")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-explorer-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for key in args.only or KEYS:
                graph = captured(key)
                started = time.perf_counter()
                page_text = to_html(graph, folded=fold(graph))
                write_s = time.perf_counter() - started
                path = tmp / f"{key}.html"
                path.write_text(page_text, encoding="utf-8")
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                started = time.perf_counter()
                page.goto(path.as_uri())
                page.wait_for_selector("body[data-state=ready]", timeout=60_000)
                open_s = time.perf_counter() - started
                shown = page.locator("g.node").count()
                if args.shots:
                    page.screenshot(path=str(args.shots / f"explorer-{key}.png"))
                module = page.locator("g.node[data-module]")
                folded = page.locator("g.node.unfoldable")
                if module.count():
                    unfold_s = relayout(page, module.first.click)
                elif folded.count():
                    unfold_s = relayout(page, folded.first.dblclick)
                else:
                    unfold_s = float("nan")
                after = page.locator("g.node").count()
                page.close()
                rows.append(
                    (key, len(graph), path.stat().st_size, write_s, open_s, shown, unfold_s, after)
                )
        finally:
            browser.close()
    print("| graph | nodes | page | write | open in Chromium | drawn | one unfold | drawn after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, nodes, size, write_s, open_s, shown, unfold_s, after in rows:
        print(
            f"| {key} | {nodes:,} | {size / 1e6:.2f} MB | {write_s:.2f} s | {open_s:.2f} s | "
            f"{shown} | {unfold_s:.2f} s | {after} |"
        )
    return 0 if all(row[4] <= BUDGET_S for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
