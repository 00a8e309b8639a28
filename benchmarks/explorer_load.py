"""The explorer on big graphs: page size, time to write it, to open it in Chromium, to unfold, to
search and to choose a result.

    .venv/bin/python benchmarks/explorer_load.py [--only KEY ...] [--shots DIR]

Each graph is captured as ``gradviz run benchmarks/make_graph.py -o KEY.html -- KEY`` captures
it (gradients, modules, source lines, the model bound as ``model`` so that it is named as in a
script of one's own) and its page is written as that command writes it (`document.encode`: the
whole graph, opening folded to the default budget; the same page, byte for byte). It is opened
from disk in headless Chromium (Playwright, the Debian ``/usr/bin/chromium``), 1400x900:

- open: from navigation to the first picture drawn (``body[data-state=ready]``);
- unfold: one click that lays the graph out again: the run of identical blocks
  (``g.node[data-run]``) if there is one, else the first folded module, else the first ×N
  node's unfold (a double click); "one block": a second click, on the run's first block (else on
  the first folded module, else the next ×N node);
- search, in a page opened afresh: the query typed at once (`QUERIES`) until its results are
  listed in ``#results``, with the number of matches; "typed": the same query typed one key at
  a time (one search a key), as a person does;
- choose: a click on the first result until it is drawn, selected and the page ready (opening
  what hides it lays the graph out again); "choose hidden": the same for the first result not
  drawn when the page opens (inside a folded module, a run, or a ×N node it does not stand for).

``gpt2-20``, ``resnet50`` and ``resnet18`` need the bench extra (transformers);
``transformer-6-flat`` is captured without modules: all 455 nodes are drawn at once. The budget
is 10 s to open; the exit code is 1 when a page takes longer, or reports a script error.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import graphs
import models

from graphviz_autograd import capture
from graphviz_autograd.model import Graph
from graphviz_autograd.renderers.document import encode
from graphviz_autograd.renderers.options import DrawOptions

QUERIES = {
    "gpt2-20": "c_attn",
    "resnet50": "conv",
    "wide-10k": "AccumulateGrad",
    "transformer-6": "Addmm",
    "transformer-6-flat": "Addmm",
    "resnet18": "conv",
    "chain-1e5": "MulBackward0",
}
"""Key -> what is searched for in its page."""
KEYS = tuple(QUERIES)
BUDGET_S = 10.0
CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 120_000
ROOT = Path(__file__).resolve().parent.parent


class Step(NamedTuple):
    """One action in the page: how long until it was done, and the nodes drawn then."""

    seconds: float
    drawn: int


class Row(NamedTuple):
    key: str
    nodes: int
    page_bytes: int
    write_s: float
    open: Step
    unfold: Step | None
    block: Step | None
    search: Step
    matches: int
    typed_s: float
    choose: Step
    hidden: Step | None
    errors: list[str]


def captured(key: str) -> Graph:
    """The graph of ``key`` as `gradviz run make_graph.py -- KEY` records it (its last call,
    module and source lines on, names from a namespace the model is bound in); ``KEY-flat``:
    without modules, so that every node is drawn."""
    flat = key.endswith("-flat")
    key = key.removesuffix("-flat")
    namespace: dict[str, object] = {}  # make_graph.py's globals: a model is bound as `model`
    models.NAMESPACE = namespace
    with capture(modules=not flat, source=True, namespace=namespace, keep="last") as cap:
        out, _ = models.build(key) if key in {**models.MODELS, **models.BIG} else graphs.build(key)
        model = namespace.get("model")  # noqa: F841 (parameters are named by it, by their path)
        out.backward()
    return cap.calls[-1].graph


def written(graph: Graph, path: Path) -> float:
    """Write ``graph``'s page to ``path`` as `gradviz run -o x.html` does; the seconds encoding
    took."""
    started = time.perf_counter()
    document = encode(graph, "html", DrawOptions())
    seconds = time.perf_counter() - started
    assert isinstance(document.data, str)
    path.write_text(document.data, encoding="utf-8")
    return seconds


def drawn(page: Any) -> int:
    return int(page.locator("g.node").count())


def relayout(page: Any, action: Callable[[], object]) -> Step:
    """Do ``action`` and wait until the page has laid the graph out again."""
    before = int(page.get_attribute("body", "data-layouts") or 0)
    started = time.perf_counter()
    action()
    page.wait_for_selector(f"body[data-layouts='{before + 1}'][data-state=ready]", timeout=WAIT_MS)
    return Step(time.perf_counter() - started, drawn(page))


def opened(browser: Any, path: Path, errors: list[str]) -> tuple[Any, Step]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    started = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-state=ready]", timeout=WAIT_MS)
    return page, Step(time.perf_counter() - started, drawn(page))


def unfolded(page: Any, first_of_run: str | None) -> Step | None:
    """One click that unfolds something: ``first_of_run``'s block (after the run is open),
    else the run, else the first folded module, else the first ×N node; None if none is."""
    for selector, event in (
        (f'g.node[data-module="{first_of_run}"]' if first_of_run else "", "click"),
        ("g.node[data-run]", "click"),
        ("g.node[data-module]", "click"),
        ("g.node.folded.unfoldable", "dblclick"),
    ):
        if selector and page.locator(selector).count():
            target = page.locator(selector).first
            return relayout(page, partial(target.dispatch_event, event))
    return None


def unfolding(browser: Any, path: Path, errors: list[str], shots: Path | None) -> list[Any]:
    """Open the page, then unfold twice: [open, unfold, one block]."""
    page, open_step = opened(browser, path, errors)
    try:
        if shots:
            page.screenshot(path=str(shots / f"explorer-{path.stem}.png"))
        run = page.locator("g.node[data-run]")
        first = None
        if run.count():  # "model.transformer.h.0–h.19": its first block, by its path
            span = run.first.get_attribute("data-run") or ""
            first = span.split("–")[0]
        unfold = unfolded(page, None)
        block = unfolded(page, first) if unfold else None
        return [open_step, unfold, block]
    finally:
        page.close()


def chosen(page: Any, node: str) -> Step:
    """Click the result ``node`` until it is drawn, selected and the page ready."""
    started = time.perf_counter()
    page.click(f'#results [data-result="{node}"]')
    page.wait_for_selector(
        f'body[data-state=ready] g.node.selected[data-node="{node}"]', timeout=WAIT_MS
    )
    return Step(time.perf_counter() - started, drawn(page))


def searching(browser: Any, path: Path, query: str, errors: list[str]) -> list[Any]:
    """In the page opened afresh: [typed, search, matches, choose, choose hidden]."""
    page, _ = opened(browser, path, errors)
    try:
        box = page.locator("input[type=search]")
        started = time.perf_counter()
        box.press_sequentially(query)
        page.wait_for_selector("#results [data-result]", timeout=WAIT_MS)
        typed_s = time.perf_counter() - started
        box.fill("")
        started = time.perf_counter()
        box.fill(query)
        page.wait_for_selector("#results [data-result]", timeout=WAIT_MS)
        search = Step(time.perf_counter() - started, drawn(page))
        summary = page.inner_text("#results .summary")  # "1,234 nodes in 20 groups"
        matches = int(summary.split()[0].replace(",", ""))
        listed = page.eval_on_selector_all(
            "#results [data-result]", "els => els.map(e => e.getAttribute('data-result'))"
        )
        shown = set(  # a node drawn for several carries the first of them
            page.eval_on_selector_all(
                "g.node[data-node]", "els => els.map(e => e.getAttribute('data-node'))"
            )
        )
        hidden_id = next((node for node in listed if node not in shown), None)
        choose = chosen(page, listed[0])
        if hidden_id == listed[0]:
            hidden: Step | None = choose
        else:
            hidden = chosen(page, hidden_id) if hidden_id else None
        return [typed_s, search, matches, choose, hidden]
    finally:
        page.close()


def measured(browser: Any, key: str, tmp: Path, shots: Path | None) -> Row:
    graph = captured(key)
    path = tmp / f"{key}.html"
    write_s = written(graph, path)
    errors: list[str] = []
    open_step, unfold, block = unfolding(browser, path, errors, shots)
    typed_s, search, matches, choose, hidden = searching(browser, path, QUERIES[key], errors)
    size = path.stat().st_size
    return Row(
        key, len(graph), size, write_s, open_step, unfold, block, search, matches, typed_s,
        choose, hidden, errors,
    )  # fmt: skip


def _step(step: Step | None) -> str:
    return "—" if step is None else f"{step.seconds:.2f} s ({step.drawn:,})"


def table(rows: list[Row]) -> str:
    lines = [
        "| graph | nodes | page | write | open (drawn) | unfold (drawn) | one block (drawn) "
        "| search: query, matches | search | typed | choose first (drawn) "
        "| choose hidden (drawn) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.key} | {r.nodes:,} | {r.page_bytes / 1e6:.2f} MB | {r.write_s:.2f} s "
            f"| {_step(r.open)} | {_step(r.unfold)} | {_step(r.block)} "
            f"| `{QUERIES[r.key]}`: {r.matches:,} | {r.search.seconds:.2f} s | {r.typed_s:.2f} s "
            f"| {_step(r.choose)} | {_step(r.hidden)} |"
        )
    return "\n".join(lines)


def provenance(browser: Any) -> str:
    rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{today}, git {rev}, Chromium {browser.version}"


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=KEYS, metavar="KEY")
    parser.add_argument("--shots", type=Path, help="save a PNG of each page as it opens here")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-explorer-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            print(provenance(browser), flush=True)
            for key in args.only or KEYS:
                rows.append(measured(browser, key, tmp, args.shots))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
        finally:
            browser.close()
    print(table(rows))
    for row in rows:
        for error in row.errors:
            print(f"{row.key}: page error: {error}")
    slow = [row.key for row in rows if row.open.seconds > BUDGET_S]
    if slow:
        print(f"over the {BUDGET_S:.0f} s budget to open: {', '.join(slow)}")
    return 1 if slow or any(row.errors for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
