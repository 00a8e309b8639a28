"""The HTML explorer: the page's data and safety in Python, then the page itself in Chromium.

Browser tests carry the `browser` marker and share one Chromium per module. They click, type
and assert on what the page shows, as a person would use it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import CHROMIUM, Gradviz, real_models

from graphviz_autograd import Edge, Graph, Node, TensorStats, explore, render
from graphviz_autograd.model import Source
from graphviz_autograd.renderers.html import (
    fold_map,
    json_in_html,
    page_data,
    script_safe,
    to_html,
)
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.fold import fold

SAMPLES = Path(__file__).parents[2] / "samples"
EVIL = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _grad(*values: float) -> TensorStats:
    norm = sum(v * v for v in values) ** 0.5
    return TensorStats(
        (len(values),), norm, min(values), max(values), sum(values) / len(values), 0, 0, values
    )


def small() -> Graph:
    """loss <- Addmm (model.0) <- T (model.0) <- weight; bias -> Addmm; Relu (model.1) after."""
    src = Source("/home/u/train.py", 12, "pred = model(x)")
    nodes = (
        Node("n0", "op", op="MseLossBackward0", name="loss", shape=(), dtype="float32"),
        Node("n1", "op", op="ReluBackward0", shape=(5, 4), dtype="float32", module="model.1",
             grad=_grad(0.5, -0.25), order=2, source=src),
        Node("n2", "op", op="AddmmBackward0", shape=(5, 4), dtype="float32", module="model.0",
             source=src, attrs=(("beta", "1"),)),
        Node("n3", "op", op="TBackward0", shape=(3, 4), dtype="float32", module="model.0"),
        Node("n4", "leaf", op="AccumulateGrad", name="model.0.bias", is_leaf=True, shape=(4,),
             dtype="float32", grad=_grad(0.1, 0.2, 0.3, 0.4)),
        Node("n5", "leaf", op="AccumulateGrad", name="model.0.weight", is_leaf=True,
             shape=(4, 3), dtype="float32"),
        Node("n6", "op", op="MulBackward0", shape=(4,), dtype="float32"),
    )  # fmt: skip
    edges = (
        Edge("n1", "n0", 0),
        Edge("n2", "n1", 0),
        Edge("n4", "n2", 0),
        Edge("n3", "n2", 2),
        Edge("n5", "n3", 0),
        Edge("n6", "n0", 1),
        Edge("n4", "n6", 0),
    )
    return Graph(nodes, edges, ("n0",))


def wide(n: int) -> Graph:
    """sum <- stack <- n x (leaf -> Mul): folds to 4 nodes past the 1,500-node budget."""
    nodes = [Node("n0", "op", op="SumBackward0", shape=()), Node("n1", "op", op="StackBackward0")]
    nodes += [Node(f"n{2 + i}", "op", op="MulBackward0", shape=(1,)) for i in range(n)]
    nodes += [
        Node(f"n{2 + n + i}", "leaf", name=f"w{i}", is_leaf=True, shape=(1,)) for i in range(n)
    ]
    edges = [Edge("n1", "n0", 0)]
    edges += [Edge(f"n{2 + i}", "n1", i) for i in range(n)]
    edges += [Edge(f"n{2 + n + i}", f"n{2 + i}", 0) for i in range(n)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


def chain(n: int) -> Graph:
    nodes = [Node(f"n{i}", "op", op="MulBackward0", shape=(1,)) for i in range(n)]
    nodes.append(Node(f"n{n}", "leaf", name="x", is_leaf=True, shape=(1,)))
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(n)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


def blocks(k: int) -> Graph:
    """k blocks in series, each ``model.<b>`` = Linear (``model.<b>.0``) then ReLU (``.1``)."""
    nodes: list[Node] = [Node("n0", "op", op="SumBackward0", name="loss", shape=())]
    edges: list[Edge] = []
    below = "n0"
    for b in range(k):
        i = len(nodes)
        linear, relu = f"model.{b}.0", f"model.{b}.1"
        nodes += [
            Node(f"n{i}", "op", op="ReluBackward0", shape=(8,), module=relu),
            Node(f"n{i + 1}", "op", op="AddmmBackward0", shape=(8,), module=linear),
            Node(f"n{i + 2}", "op", op="TBackward0", shape=(8, 8), module=linear),
            Node(f"n{i + 3}", "leaf", name=f"{linear}.bias", is_leaf=True, shape=(8,)),
            Node(f"n{i + 4}", "leaf", name=f"{linear}.weight", is_leaf=True, shape=(8, 8)),
        ]
        edges += [
            Edge(f"n{i}", below, 0),
            Edge(f"n{i + 1}", f"n{i}", 0),
            Edge(f"n{i + 3}", f"n{i + 1}", 0),
            Edge(f"n{i + 2}", f"n{i + 1}", 2),
            Edge(f"n{i + 4}", f"n{i + 2}", 0),
        ]
        below = f"n{i + 1}"
    nodes.append(Node(f"n{len(nodes)}", "leaf", name="x", is_leaf=True, shape=(8,)))
    edges.append(Edge(nodes[-1].id, below, 1))
    return Graph(tuple(nodes), tuple(edges), ("n0",))


def evil() -> Graph:
    """Names, ops, modules and source text that would run script if they were markup."""
    nodes = (
        Node("n0", "op", op="SumBackward0", name=EVIL, shape=()),
        Node("n1", "op", op=f"{EVIL}Backward", module=f"m.{EVIL}",
             source=Source(f"{EVIL}.py", 3, EVIL), attrs=((EVIL, EVIL),)),
        Node("n2", "leaf", name=EVIL, is_leaf=True, shape=(2,)),
    )  # fmt: skip
    return Graph(nodes, (Edge("n1", "n0", 0), Edge("n2", "n1", 0)), ("n0",))


def data_of(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="gradviz-data">(.*?)</script>', page)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


# ---- Python side ------------------------------------------------------------------------------


def test_json_in_html_escapes_markup_and_line_separators() -> None:
    text = json_in_html({"name": "</script><!--&\u2028\u2029"})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"name": "</script><!--&\u2028\u2029"}


def test_script_safe_escapes_closing_tags_in_any_case() -> None:
    code = 'a = "</script>"; b = "</SCRIPT >"; c = "<!--";'
    safe = script_safe(code)
    assert "</script" not in safe.lower() and "<!--" not in safe
    assert safe == 'a = "<\\/script>"; b = "<\\/SCRIPT >"; c = "<\\!--";'


def test_page_is_one_self_contained_file() -> None:
    graph = small()
    page = to_html(graph, folded=fold(graph))
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')
    assert "default-src 'none'" in page  # the browser refuses any request the page might make
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page)
    assert page.count("<script") == 3  # data, the layout library, the explorer
    assert len(page.encode()) < 1_500_000


def test_page_is_deterministic() -> None:
    one, two = wide(2000), wide(2000)
    assert to_html(one, folded=fold(one)) == to_html(two, folded=fold(two))


def test_names_stay_inside_their_json() -> None:
    graph = evil()
    page = to_html(graph, folded=fold(graph))
    assert "window.pwned" not in page.split('id="gradviz-data">', 1)[0]
    data_part = page.split('id="gradviz-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data_part and ">" not in data_part
    data = data_of(page)
    assert data["info"][data["info_of"][2]]["name"] == EVIL


def test_page_data_keeps_the_whole_graph_and_its_folding() -> None:
    graph = wide(2000)
    data = page_data(graph, folded=fold(graph))
    assert data["ids"] == [n.id for n in graph.nodes] and data["whole"]
    folded = fold(graph)
    assert [data["ids"][i] for i, c in enumerate(data["folded_count"]) if c] == [
        n.id for n in folded.nodes
    ]
    assert data["notes"] == list(folded.notes)


@pytest.mark.parametrize(
    "graph", [wide(2000), chain(3000), blocks(400)], ids=["branches", "run", "blocks"]
)
def test_fold_map_gives_each_kept_node_as_many_nodes_as_its_count(graph: Graph) -> None:
    folded = fold(graph, max_nodes=100)
    assert len(folded) < len(graph)
    rep = fold_map(graph, folded)
    ids = [n.id for n in graph.nodes]
    given: dict[str, int] = {}
    for i, r in enumerate(rep):
        given[ids[r]] = given.get(ids[r], 0) + graph.nodes[i].count
    assert given == {n.id: n.count for n in folded.nodes}
    kinds = {(graph.nodes[i].kind, graph.nodes[i].op) for i, r in enumerate(rep) if r != i}
    for i, r in enumerate(rep):  # alike nodes fold together
        assert (graph.nodes[i].kind, graph.nodes[i].op) == (graph.nodes[r].kind, graph.nodes[r].op)
    assert kinds


def test_fold_map_of_branches_pairs_each_leaf_with_its_kept_copy() -> None:
    graph = wide(2000)
    rep = fold_map(graph, fold(graph))
    assert rep[2 + 7] == 2  # the 8th Mul folds into the first
    assert rep[2 + 2000 + 7] == 2 + 2000  # and its leaf into the first leaf


def test_page_lays_out_as_asked_and_labels_as_pictures_do() -> None:
    graph = small()
    data = page_data(graph, folded=fold(graph), rankdir="LR", show_order=True)
    assert "rankdir=LR" in data["dot_header"] and data["dot_header"].startswith("digraph gradviz {")
    relu = data["parts"][data["info"][data["info_of"][1]]["look"]]  # parts are shared
    assert relu[0] == "#2 ReluBackward0"  # the label's head, DOT-escaped, without ×N
    assert relu[1] == "\\n(5, 4) float32\\ngrad ‖·‖=0.559 [-0.25, 0.5]"
    loss = data["parts"][data["info"][data["info_of"][0]]["look"]]
    assert loss[2] == 'fillcolor="#b7e4b0" style="rounded,filled,bold"'  # an output
    assert data["order"][:3] == [None, 2, None]


def test_big_graphs_go_in_folded_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from graphviz_autograd.renderers import html

    monkeypatch.setattr(html, "UNFOLD_UP_TO", 1000)
    graph = chain(3000)
    data = page_data(graph, folded=fold(graph))
    assert not data["whole"] and len(data["ids"]) == 2 and data["total_nodes"] == 3001


def test_render_and_cli_write_the_explorer(gradviz: Gradviz, tmp_path: Path) -> None:
    w = torch.randn(3, requires_grad=True)
    loss = (w * 2).sum()
    assert render(loss, tmp_path / "g.html", params={"w": w}) == tmp_path / "g.html"
    assert data_of((tmp_path / "g.html").read_text(encoding="utf-8"))["total_nodes"] == 3
    result = gradviz("run", SAMPLES / "neurons.py", "-f", "html", "-o", "n.out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr and "(11 nodes, 11 edges" in result.stderr
    data = data_of((tmp_path / "n.out").read_text(encoding="utf-8"))
    names = {data["info"][k]["name"] for k in data["info_of"]}
    assert {"w1", "w2", "w3", "w4", "a", "L"} <= names


def test_explore_shows_inline_in_a_sandboxed_frame() -> None:
    shown = explore(evil())
    frame = shown._repr_html_()
    assert frame.startswith('<iframe srcdoc="<!DOCTYPE html>') or frame.startswith(
        '<iframe srcdoc="&lt;!DOCTYPE html&gt;'
    )
    assert 'sandbox="allow-scripts"' in frame
    assert "<script" not in frame  # all of the page is inside the attribute, escaped
    assert re.fullmatch(r"<gradviz Explorer: [\d,]+ bytes of HTML>", repr(shown))


def test_without_graphviz_the_explorer_is_written_and_shown(
    gradviz: Gradviz, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    w = torch.randn(3, requires_grad=True)
    loss = (w * 2).sum()
    result = gradviz("run", SAMPLES / "neurons.py", "-o", "n.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rendering = render(loss)
    assert not isinstance(rendering, Path)
    bundle = rendering._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert bundle["text/html"].startswith("<iframe srcdoc=")  # Jupyter shows the explorer


# ---- in Chromium --------------------------------------------------------------------------------


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    marker = f"--gradviz-test-run={os.getpid()}"  # Chromium ignores it; we find its processes
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", marker])
        try:
            yield launched
        finally:
            launched.close()
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(marker), "a Chromium process outlived the tests"


class Explorer:
    """A page opened in Chromium, with what it logged."""

    def __init__(self, browser: Any, path: Path, size: tuple[int, int] = (1200, 800)) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda request: self.requests.append(request.url))
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)

    def laid_out_after(self, action: Callable[[], object]) -> None:
        """Do ``action``, then wait until the page has laid the graph out again."""
        before = int(self.page.get_attribute("body", "data-layouts") or 0)
        action()
        # a selector, not wait_for_function: the page's policy forbids evaluating strings
        self.page.wait_for_selector(
            f"body[data-layouts='{before + 1}'][data-state=ready]", timeout=30_000
        )

    def drawn(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "g.node[data-node]", "els => els.map(e => e.getAttribute('data-node'))"
        )  # type: ignore[no-any-return]

    def label(self, selector: str) -> str:
        """The lines of a drawn node's label, joined by `` | ``."""
        return self.page.eval_on_selector(  # type: ignore[no-any-return]
            selector, "g => [...g.querySelectorAll('text')].map(t => t.textContent).join(' | ')"
        )

    def details(self) -> str:
        return self.page.inner_text("#details")  # type: ignore[no-any-return]

    def view_box(self) -> list[float]:
        box = self.page.get_attribute("#canvas svg", "viewBox") or ""
        return [float(v) for v in box.split()]


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Callable[..., Explorer]]:
    pages: list[Explorer] = []

    def opener(graph: Graph, **options: Any) -> Explorer:
        path = tmp_path / f"page{len(pages)}.html"
        path.write_text(to_html(graph, folded=fold(graph), **options), encoding="utf-8")
        pages.append(Explorer(browser, path))
        return pages[-1]

    yield opener
    for explorer in pages:
        assert explorer.errors == []
        assert [url for url in explorer.requests if not url.startswith("file:")] == []
        explorer.page.close()


@pytest.mark.browser
def test_draws_every_node_with_its_id(open_page: Callable[..., Explorer]) -> None:
    page = open_page(small())
    assert sorted(page.drawn()) == [f"n{i}" for i in range(7)]
    assert page.label('[data-node="n0"]') == "loss = MseLossBackward0 | () float32"
    modules = page.page.eval_on_selector_all(
        "g.cluster[data-module]", "els => els.map(e => e.getAttribute('data-module'))"
    )
    assert sorted(modules) == ["model", "model.0", "model.1"]  # clusters nest, as in pictures
    assert "7 shown of 7 nodes" in page.page.inner_text("#status")


@pytest.mark.browser
def test_clicking_a_node_shows_everything_known_about_it(
    open_page: Callable[..., Explorer],
) -> None:
    page = open_page(small())
    page.page.click('[data-node="n1"]')
    text = page.details()
    for expected in (
        "ReluBackward0",
        "id\tn1",
        "shape\t(5, 4)",
        "dtype\tfloat32",
        "order\t2",
        "module\tmodel.1",
        "/home/u/train.py:12",
        "pred = model(x)",
        "norm\t0.559",  # four significant digits, as in the label
        "mean\t0.125",
        "values\t[0.5, -0.25]",
    ):
        assert expected in text
    page.page.click('[data-node="n2"]')
    assert "beta\t1" in page.details()


@pytest.mark.browser
def test_a_selected_node_lights_its_paths_to_roots_and_leaves(
    open_page: Callable[..., Explorer],
) -> None:
    page = open_page(small())
    page.page.click('[data-node="n3"]')
    on_path = page.page.eval_on_selector_all(
        "g.node.path", "els => els.map(e => e.getAttribute('data-node')).sort()"
    )
    assert on_path == ["n0", "n1", "n2", "n3", "n5"]  # not the bias (n4) nor Mul (n6)
    assert page.page.get_attribute('[data-node="n3"]', "class") == "node path selected"
    edges = page.page.eval_on_selector_all("g.edge.path", "els => els.length")
    assert edges == 4  # weight -> T, and T -> Addmm -> Relu -> loss
    page.page.locator("#canvas").click(position={"x": 5, "y": 5})  # the background
    assert page.page.locator("g.node.path").count() == 0
    assert page.details().startswith("Click a node for its details.")


@pytest.mark.browser
def test_search_marks_matches_and_steps_through_them(open_page: Callable[..., Explorer]) -> None:
    page = open_page(small())
    box = page.page.locator("input[type=search]")
    box.fill("model.0")  # a module: its two ops, and the two leaves named after it
    matches = page.page.eval_on_selector_all(
        "g.node.match", "els => els.map(e => e.getAttribute('data-node')).sort()"
    )
    assert matches == ["n2", "n3", "n4", "n5"]
    assert page.page.inner_text("#found") == "4 found"
    box.press("Enter")
    assert page.page.inner_text("#found") == "1 of 4"
    first = page.page.get_attribute("g.node.current", "data-node")
    assert f"id\t{first}" in page.details()
    box.press("Enter")
    second = page.page.get_attribute("g.node.current", "data-node")
    assert second != first and page.page.inner_text("#found") == "2 of 4"
    box.press("Shift+Enter")
    assert page.page.get_attribute("g.node.current", "data-node") == first
    box.fill("train.py:12")  # source text
    assert page.page.inner_text("#found") == "2 found"
    box.fill("nothing like it")
    assert page.page.inner_text("#found") == "no match"
    assert page.page.locator("g.node.match").count() == 0


@pytest.mark.browser
def test_a_module_folds_and_opens_on_click(open_page: Callable[..., Explorer]) -> None:
    page = open_page(small())
    frame = page.page.locator('g.cluster[data-module="model.0"]')
    page.laid_out_after(lambda: frame.dispatch_event("click"))
    folded = page.page.locator('g.node[data-module="model.0"]')
    # Addmm, T and the weight, which feeds only them; the bias also feeds Mul (n6)
    assert page.label('g.node[data-module="model.0"]') == "module model.0 ×3"
    assert sorted(page.drawn()) == ["n0", "n1", "n2", "n4", "n6"]  # the module shows as n2
    page.laid_out_after(folded.click)
    assert sorted(page.drawn()) == [f"n{i}" for i in range(7)]


@pytest.mark.browser
def test_a_big_model_opens_with_modules_folded_and_opens_block_by_block(
    open_page: Callable[..., Explorer],
) -> None:
    graph = blocks(12)
    page = open_page(graph)
    folded = page.page.eval_on_selector_all(
        "g.node[data-module]", "els => els.map(e => e.getAttribute('data-module'))"
    )
    assert len(page.drawn()) <= 30 < len(graph)
    assert "model.3.0" in folded and "AddmmBackward0" not in page.page.inner_text("#canvas")
    page.laid_out_after(lambda: page.page.click('g.node[data-module="model.3.0"]'))
    assert page.page.locator("g.cluster[data-module='model.3.0']").count() == 1
    assert page.page.locator("g.node[data-module='model.3.0']").count() == 0
    assert page.page.locator("text=AddmmBackward0").count() == 1


@pytest.mark.browser
def test_folded_branches_unfold_and_fold_back(open_page: Callable[..., Explorer]) -> None:
    page = open_page(wide(2000))
    assert sorted(page.drawn()) == ["n0", "n1", "n2", "n2002"]
    assert page.label('[data-node="n2"]') == "MulBackward0 ×2000 | (1,)"
    page.laid_out_after(lambda: page.page.dblclick('[data-node="n2"]'))
    drawn = page.drawn()
    assert len(drawn) == 4 + 100 + 2  # 50 more branches, and the rest as one of each
    # the first copy stays by itself; the 1,949 copies left are drawn as one
    assert page.label("g.node.folded >> nth=0") == "MulBackward0 ×1949 | (1,)"
    assert page.label("g.node.folded >> nth=1") == "w51 ×1949 | (1,)"
    page.page.click('[data-node="n3"]')  # an unfolded copy
    assert "id\tn3" in page.details()
    page.laid_out_after(lambda: page.page.click("#details button[data-action=fold]"))
    assert sorted(page.drawn()) == ["n0", "n1", "n2", "n2002"]


@pytest.mark.browser
def test_a_folded_run_unfolds_from_its_details(open_page: Callable[..., Explorer]) -> None:
    page = open_page(chain(3000))
    assert sorted(page.drawn()) == ["n0", "n3000"]
    page.page.click('[data-node="n0"]')
    assert "stands for\t3000 nodes" in page.details()
    page.laid_out_after(lambda: page.page.click("#details button[data-action=unfold]"))
    assert len(page.drawn()) == 2 + 100 + 1
    assert page.page.locator("g.node", has_text="MulBackward0 ×2899").count() == 1


@pytest.mark.browser
def test_pan_zoom_and_fit(open_page: Callable[..., Explorer]) -> None:
    page = open_page(blocks(3))
    start = page.view_box()
    canvas = page.page.locator("#canvas")
    canvas.hover()
    page.page.mouse.wheel(0, -400)  # zoom in
    zoomed = page.view_box()
    assert zoomed[2] < start[2] and zoomed[3] < start[3]
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + 20
    page.page.mouse.move(x, y)
    page.page.mouse.down()
    page.page.mouse.move(x + 100, y + 60, steps=5)
    page.page.mouse.up()
    panned = page.view_box()
    assert panned[0] < zoomed[0] and panned[1] < zoomed[1] and panned[2] == zoomed[2]
    page.page.click("#fit")
    assert page.view_box() == start


@pytest.mark.browser
def test_names_show_as_text_and_run_nothing(open_page: Callable[..., Explorer]) -> None:
    page = open_page(evil())
    assert page.page.evaluate("window.pwned") is None
    assert page.page.locator("img").count() == 0
    assert EVIL in (page.page.text_content('[data-node="n2"]') or "")
    page.page.click('[data-node="n1"]')
    assert EVIL + "Backward" in page.details()
    page.page.locator("input[type=search]").fill("onerror")
    assert page.page.locator("g.node.match").count() == 3
    assert page.page.evaluate("window.pwned") is None


@pytest.mark.browser
def test_a_function_named_like_markup_runs_nothing(browser: Any, tmp_path: Path) -> None:
    double = type(
        EVIL,
        (torch.autograd.Function,),
        {
            "forward": staticmethod(lambda ctx, x: x * 2),
            "backward": staticmethod(lambda ctx, g: g * 2),
        },
    )
    w = torch.randn(2, requires_grad=True)
    loss = double.apply(w).sum()
    loss.backward()
    render(loss, tmp_path / "f.html", params={EVIL: w})
    page = Explorer(browser, tmp_path / "f.html")
    try:
        assert page.errors == [] and page.page.evaluate("window.pwned") is None
        assert page.page.locator("img").count() == 0
        assert page.page.locator("g.node", has_text=EVIL + "Backward").count() == 1
        assert page.page.locator("g.node", has_text=EVIL).count() == 2  # the op and the leaf
    finally:
        page.page.close()


@pytest.mark.browser
def test_the_10k_leaf_graph_and_a_transformer_open_and_unfold(browser: Any, tmp_path: Path) -> None:
    xs = [torch.randn(1, requires_grad=True) for _ in range(10_000)]
    out = torch.stack([x * 2.0 for x in xs]).sum()
    layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
    loss = encoder(torch.randn(4, 2, 16)).sum()
    for name, output in (("wide", out), ("transformer", loss)):
        graph = build_graph(output)
        render(graph, tmp_path / f"{name}.html")
        page = Explorer(browser, tmp_path / f"{name}.html")
        try:
            assert page.errors == []
            if name == "wide":
                assert len(page.drawn()) == 4
                page.laid_out_after(lambda: page.page.dblclick('[data-node="n2"]'))  # noqa: B023
                assert len(page.drawn()) == 4 + 100 + 2
            else:
                assert len(page.drawn()) == len(graph)  # no modules outside capture
        finally:
            page.page.close()


@pytest.mark.browser
def test_explore_runs_inside_its_sandboxed_frame(browser: Any, tmp_path: Path) -> None:
    host = tmp_path / "notebook.html"
    host.write_text(
        '<!DOCTYPE html><meta charset="utf-8"><body>' + explore(small())._repr_html_(),
        encoding="utf-8",
    )
    page = Explorer.__new__(Explorer)  # the host page is not an explorer: no wait for it
    page.page = browser.new_page()
    try:
        page.page.goto(host.as_uri())
        frame = page.page.frame_locator("iframe")
        frame.locator("body[data-state=ready]").wait_for(timeout=30_000)
        assert frame.locator("g.node[data-node]").count() == 7
        frame.locator('[data-node="n1"]').click()
        assert "ReluBackward0" in frame.locator("#details").inner_text()
    finally:
        page.page.close()


@pytest.mark.browser
def test_resnet18_opens_with_its_blocks_folded_and_opens_one_by_one(
    browser: Any, tmp_path: Path
) -> None:
    models = real_models()
    from graphviz_autograd import capture

    with capture(modules=True) as cap:
        out, _ = models.resnet18()
        out.backward()
    graph = cap.calls[0].graph
    render(graph, tmp_path / "resnet.html")
    page = Explorer(browser, tmp_path / "resnet.html")
    try:
        blocks_shown = page.page.eval_on_selector_all(
            "g.node[data-module]", "els => els.map(e => e.getAttribute('data-module'))"
        )
        assert len(blocks_shown) == 8  # the 8 residual blocks, each one node
        assert all(re.search(r"\.stages\.\d\.layers\.\d$", path) for path in blocks_shown)
        drawn = len(page.drawn())
        for path in blocks_shown[:2]:
            page.page.keyboard.press("f")  # the whole graph: it opens zoomed in, at the loss
            page.laid_out_after(
                lambda p=path: page.page.click(f'g.node[data-module="{p}"]')  # type: ignore[misc]
            )
            assert page.page.locator(f'g.cluster[data-module="{path}"]').count() == 1
            assert len(page.drawn()) > drawn
            drawn = len(page.drawn())
        assert page.errors == []
    finally:
        page.page.close()


@pytest.mark.browser
def test_mistral_opens_layer_by_layer_with_its_rotary_ops_inside_attention(
    browser: Any, tmp_path: Path
) -> None:
    models = real_models()
    from graphviz_autograd import capture

    with capture(modules=True, namespace=models.NAMESPACE) as cap:
        loss, _ = models.mistral()
        loss.backward()
    render(cap.calls[0].graph, tmp_path / "mistral.html")
    page = Explorer(browser, tmp_path / "mistral.html")
    try:
        folded = page.page.eval_on_selector_all(
            "g.node[data-module]", "els => els.map(e => e.getAttribute('data-module'))"
        )
        # each layer's norms, attention and MLP, as GPT-2 opens (not `model`, `Func#2`, `Func#3`)
        assert sorted(folded) == sorted(
            f"model.model.layers.{layer}.{part}"
            for layer in (0, 1)
            for part in ("input_layernorm", "self_attn", "post_attention_layernorm", "mlp")
        )
        assert page.errors == []
    finally:
        page.page.close()


@pytest.mark.browser
def test_a_compiled_region_folds_like_a_module(open_page: Callable[..., Explorer]) -> None:
    """The backward graph of a compiled region is drawn in its box, ``[compiled]``, which
    folds to one node on a click and opens again."""
    import torch

    from graphviz_autograd import build_graph

    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    fast = torch.compile(model, backend="aot_eager", dynamic=False)
    graph = build_graph(fast(torch.randn(5, 4)).sum())
    torch._dynamo.reset()
    page = open_page(graph)
    every = sorted(page.drawn())
    assert len(every) == len(graph)  # small enough to open unfolded
    page.laid_out_after(
        lambda: page.page.locator('g.cluster[data-module="[compiled]"]').dispatch_event("click")
    )
    label = page.label('g.node[data-module="[compiled]"]')
    assert label.startswith("module [compiled] ×")
    assert "threshold_backward" not in " ".join(
        page.label(f'[data-node="{n}"]') for n in page.drawn()
    )
    page.laid_out_after(page.page.locator('g.node[data-module="[compiled]"]').click)
    assert sorted(page.drawn()) == every
