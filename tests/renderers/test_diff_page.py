"""``gradviz diff A B -o d.html``: both graphs in the explorer side by side, what differs marked,
navigation synced; the page's data in Python, then the page in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import Gradviz
from test_explorer import EVIL, browser, evil  # noqa: F401 (browser: the fixture)

from graphviz_autograd import Edge, Graph, Node
from graphviz_autograd.renderers.diff_page import DIFF_MARKS, to_diff_html
from graphviz_autograd.renderers.json import from_json, to_json
from graphviz_autograd.transform.diff import compare

SAMPLES = Path(__file__).parents[2] / "samples"
# samples/mlp.py (Linear, ReLU, Linear) and, deeper, with a Linear(8, 8) and a ReLU in the middle
# (model.2 and model.3; the last layer becomes model.4)
MLP = (SAMPLES / "mlp.py").read_text(encoding="utf-8")
DEEPER = MLP.replace(
    "    nn.Linear(8, 1),", "    nn.Linear(8, 8),\n    nn.ReLU(),\n    nn.Linear(8, 1),"
)


def _json_in(page: str, element: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', page)
    assert found is not None, element
    return json.loads(found.group(1))


def pane_data(page: str, side: str) -> dict[str, Any]:
    """The explorer data of pane ``side`` ("a" or "b") of a diff page."""
    pane = _json_in(page, "gradviz-diff")[side]
    return _json_in(pane[0] + pane[1], "gradviz-data")  # type: ignore[no-any-return]


def diff_page(gradviz: Gradviz, tmp_path: Path) -> Path:
    """d.html comparing the MLP (A) with the deeper MLP (B), and their graphs as JSON."""
    assert DEEPER != MLP
    (tmp_path / "mlp.py").write_text(MLP)
    (tmp_path / "deeper.py").write_text(DEEPER)
    for name in ("mlp", "deeper"):
        done = gradviz("run", f"{name}.py", "-o", f"{name}.json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = gradviz("diff", "mlp.py", "deeper.py", "-o", "d.html", cwd=tmp_path)
    assert done.returncode == 4, done.stderr  # the structure differs
    assert "wrote d.html" in done.stderr
    assert "5 nodes added, 0 removed, 9 changed" in done.stdout
    return tmp_path / "d.html"


def test_cli_writes_both_graphs_marked_with_the_matched_map(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    page = diff_page(gradviz, tmp_path).read_text(encoding="utf-8")
    a, b = (from_json((tmp_path / f"{n}.json").read_text()) for n in ("mlp", "deeper"))
    comparison = compare(a, b)
    doc = _json_in(page, "gradviz-diff")
    assert (doc["format"], doc["version"]) == ("gradviz-diff-page", 1)
    assert [tuple(pair) for pair in doc["matched"]] == list(comparison.matched)
    assert len(doc["matched"]) == 10  # every node of A has its match in B
    # the layout library is in the page once, not in each pane
    assert page.count("Viz.js 3.31.0") == 1
    assert "Viz.js 3.31.0" not in "".join(doc["a"] + doc["b"])
    side_a, side_b = pane_data(page, "a"), pane_data(page, "b")
    marks_b = {m["severity"]: [] for m in side_b["findings"]}
    for m in side_b["findings"]:
        marks_b[m["severity"]].append(m)
    assert sorted(marks_b) == ["added", "changed"] and len(marks_b["added"]) == 5
    assert {m["colour"] for m in marks_b["added"]} == {DIFF_MARKS["added"]}
    added = {side_b["ids"][m["nodes"][0]] for m in marks_b["added"]}
    assert added == {n.id for n in comparison.added}
    assert any("model.4.weight: no match in A" == m["message"] for m in marks_b["added"])
    # a changed node: which fields changed, and the ratio of the gradient norms, on both sides
    [weight_a] = [m for m in side_a["findings"] if "(1, 8) → (8, 8)" in m["message"]]
    assert weight_a["code"] == "shape, grad" and weight_a["colour"] == DIFF_MARKS["changed"]
    assert re.search(r"grad ‖·‖=0\.\d+ → ‖·‖=0\.\d+ \(×0\.\d+\)", weight_a["message"])
    assert len(side_a["findings"]) == len(marks_b["changed"]) == 9
    assert {m["severity"] for m in side_a["findings"]} == {"changed"}  # nothing removed


def test_format_named_and_errors_are_one_line(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(to_json(evil()))
    (tmp_path / "b.json").write_text(to_json(evil()))
    done = gradviz("diff", "a.json", "b.json", "-f", "html", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!DOCTYPE html>") and "gradviz-diff-page" in done.stdout
    assert "same structure" in done.stderr  # the report goes to stderr
    for args, message in (
        (["-o", "d.txt"], "use .json, .html, .svg, .png, .pdf or .dot"),
        (["-f", "html"], "-f html writes the comparison: say where with -o"),
        (["-f", "html", "-o", "d.svg"], "its extension says svg; name it d.html"),
        (["-f", "mermaid", "-o", "d.mmd"], "a comparison is not written as mermaid"),
    ):
        done = gradviz("diff", "a.json", "b.json", *args, cwd=tmp_path)
        assert done.returncode == 1
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_names_are_data_in_the_page() -> None:
    a = evil()
    b = Graph((*a.nodes, Node("n3", "leaf", name=EVIL + "2", is_leaf=True)),
              (*a.edges, Edge("n3", "n1", 1)), a.roots)  # fmt: skip
    page = to_diff_html(compare(a, b), folded_a=a, folded_b=b, a_name=EVIL, b_name="b")
    assert EVIL not in page  # in the header escaped, in the data as JSON with < > & escaped
    assert "&lt;/script&gt;&lt;script&gt;window.pwned" in page


# ---- in Chromium --------------------------------------------------------------------------------


class DiffPage:
    """A diff page opened in Chromium, with what it and its panes logged."""

    def __init__(self, browser: Any, path: Path) -> None:  # noqa: F811
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = page = browser.new_page(viewport={"width": 1400, "height": 800})
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda request: self.requests.append(request.url))
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-state=ready]", timeout=60_000)
        self.a, self.b = page.frame_locator("#pane-a"), page.frame_locator("#pane-b")

    def close(self) -> None:
        assert self.errors == []
        assert [u for u in self.requests if not u.startswith(("file:", "about:"))] == []
        self.page.close()


@pytest.mark.browser
def test_a_click_in_one_pane_selects_the_match_in_the_other(
    browser: Any,  # noqa: F811
    gradviz: Gradviz,
    tmp_path: Path,
) -> None:
    path = diff_page(gradviz, tmp_path)
    matched = dict(_json_in(path.read_text(encoding="utf-8"), "gradviz-diff")["matched"])
    page = DiffPage(browser, path)
    try:
        header = page.page.inner_text("header")
        assert "A: mlp.py call 1 (10 nodes)" in header
        assert "B: deeper.py call 1 (15 nodes)" in header
        assert "5 added, 0 removed, 9 changed" in header
        # a changed node of A: its mark beside it; clicked, its match in B is selected
        weight = page.a.locator("g.node[data-severity=changed]", has_text="model.2.weight")
        a_id = weight.get_attribute("data-node")
        assert a_id is not None and "shape, grad" in (weight.text_content() or "")
        weight.click()
        chosen = page.b.locator(f'g.node.selected[data-node="{matched[a_id]}"]')
        chosen.wait_for(timeout=10_000)
        assert "model.2.weight" in (chosen.text_content() or "")
        assert page.page.inner_text("#paired") == f"A {a_id} ↔ B {matched[a_id]}"
        details = page.b.locator("#details").inner_text()
        assert "difference" in details and "shape (1, 8) → (8, 8)" in details and "×" in details
        # an added node of B: outlined green, marked in its details; A has nothing selected
        added = page.b.locator("g.node[data-severity=added]", has_text="model.4.weight")
        assert "in B only" in (added.text_content() or "")
        added.dispatch_event("click")  # the view is on model.2.weight: it may be out of it
        assert "model.4.weight: no match in A" in page.b.locator("#details").inner_text()
        page.a.locator("#details .hint").wait_for(timeout=10_000)
        assert page.a.locator("g.node.selected").count() == 0
        assert "no match in A (added)" in page.page.inner_text("#paired")
        assert page.b.locator("#findings .summary").inner_text() == "5 added, 9 changed"
    finally:
        page.close()


@pytest.mark.browser
def test_folding_a_module_in_one_pane_folds_it_in_the_other(
    browser: Any,  # noqa: F811
    gradviz: Gradviz,
    tmp_path: Path,
) -> None:
    page = DiffPage(browser, diff_page(gradviz, tmp_path))
    try:
        assert page.b.locator("g.node[data-module]").count() == 0  # 15 nodes: all open
        page.a.locator('g.cluster[data-module="model.0"]').dispatch_event("click")
        page.b.locator('g.node[data-module="model.0"]').wait_for(timeout=10_000)
        page.b.locator('g.node[data-module="model.0"]').click()  # opened again, in both
        page.a.locator('g.cluster[data-module="model.0"]').wait_for(timeout=10_000)
        assert page.a.locator('g.node[data-module="model.0"]').count() == 0
    finally:
        page.close()


@pytest.mark.browser
def test_names_show_as_text_and_run_nothing_in_either_pane(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    a = evil()
    b = Graph((*a.nodes, Node("n3", "leaf", name=EVIL + "2", is_leaf=True)),
              (*a.edges, Edge("n3", "n1", 1)), a.roots)  # fmt: skip
    path = tmp_path / "d.html"
    path.write_text(to_diff_html(compare(a, b), folded_a=a, folded_b=b, a_name=EVIL, b_name="b"))
    page = DiffPage(browser, path)
    try:
        assert EVIL in page.page.inner_text("header")
        assert page.page.evaluate("window.pwned") is None
        for pane in (page.a, page.b):
            assert pane.locator("body").evaluate("() => window.pwned") is None
            assert pane.locator("img").count() == 0
        page.b.locator('g.node[data-node="n3"]').dispatch_event("click")  # wide: maybe not in view
        assert EVIL + "2: no match in A" in page.b.locator("#details").inner_text()
        assert page.page.evaluate("window.pwned") is None
    finally:
        page.close()
