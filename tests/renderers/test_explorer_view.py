"""The explorer's view in Chromium: what the window shows at first, after a search, after a click
in a module's frame. Sizes are measured on screen (client rectangles), as a person sees them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from test_explorer import Explorer, browser, small  # noqa: F401 (browser: the fixture)

from graphviz_autograd import render
from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.fold import fold

READABLE_PX = 11  # the explorer opens with labels at least this high (its READABLE_PX)
SIZES = [(1400, 900), (1920, 1080), (1024, 700)]

LABEL_PX = """() => Math.min(...[...document.querySelectorAll('g.node text')].map(
  (t) => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a))"""
INSIDE = """(sel) => { const c = document.getElementById('canvas').getBoundingClientRect();
  return [...document.querySelectorAll(sel)].map((g) => { const r = g.getBoundingClientRect();
    return r.left >= c.left && r.top >= c.top && r.right <= c.right
      && r.bottom <= c.bottom; }); }"""


@pytest.fixture(scope="module")
def mlp_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 7-layer MLP without modules: 37 nodes, taller than any window when its labels can
    be read."""
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for k in range(7):
        layers += [torch.nn.Linear(8, 8 if k < 6 else 1), torch.nn.Tanh()]
    loss = torch.nn.Sequential(*layers[:-1])(torch.randn(4, 8)).pow(2).mean()
    loss.backward()
    graph = build_graph(loss)
    assert len(graph) >= 30
    path = tmp_path_factory.mktemp("view") / "mlp.html"
    render(graph, path)
    return path


@pytest.fixture
def opened(browser: Any) -> Iterator[list[Explorer]]:  # noqa: F811
    pages: list[Explorer] = []
    yield pages
    for page in pages:
        assert page.errors == []
        page.page.close()


def open_at(chromium: Any, pages: list[Explorer], path: Path, size: tuple[int, int]) -> Explorer:
    pages.append(Explorer(chromium, path, size))
    return pages[-1]


@pytest.mark.browser
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_enter_brings_each_match_into_the_window(
    browser: Any,  # noqa: F811
    opened: list[Explorer],
    mlp_page: Path,
    size: tuple[int, int],
) -> None:
    page = open_at(browser, opened, mlp_page, size)
    box = page.page.locator("input[type=search]")
    box.fill("Addmm")
    assert page.page.inner_text("#found") == "7 found"
    at_start = page.page.evaluate(INSIDE, "g.node.match")
    for k in range(7):
        box.press("Enter")
        assert page.page.inner_text("#found") == f"{k + 1} of 7"
        assert page.page.evaluate(INSIDE, "g.node.current") == [True]
    assert not all(at_start)  # some matches began out of the window


@pytest.mark.browser
def test_a_big_graph_opens_readable_and_f_fits_it_a_small_one_opens_whole(
    browser: Any,  # noqa: F811
    opened: list[Explorer],
    mlp_page: Path,
    tmp_path: Path,
) -> None:
    for size in SIZES:
        page = open_at(browser, opened, mlp_page, size)
        assert page.page.evaluate(LABEL_PX) >= READABLE_PX - 0.01
        assert not all(page.page.evaluate(INSIDE, "g.node"))
        # the loss, where backward starts, is in the window
        assert page.page.evaluate(INSIDE, '[data-node="n0"]') == [True]
        page.page.locator("#canvas").focus()
        page.page.keyboard.press("f")
        assert all(page.page.evaluate(INSIDE, "g.node"))
        assert page.page.evaluate(LABEL_PX) < READABLE_PX
    path = tmp_path / "small.html"
    path.write_text(to_html(small(), folded=fold(small())), encoding="utf-8")
    page = open_at(browser, opened, path, SIZES[2])
    assert all(page.page.evaluate(INSIDE, "g.node"))  # readable as a whole: fitted
    assert page.page.evaluate(LABEL_PX) >= READABLE_PX - 0.01
    start = page.view_box()
    page.page.click("#fit")
    assert page.view_box() == start


EMPTY_SPOT = """(path) => {
  // a point inside the module's frame on no node, edge or inner frame, in client pixels
  const frame = [...document.querySelectorAll('g.cluster')].find(
    (g) => g.getAttribute('data-module') === path);
  const f = frame.getBoundingClientRect();
  const others = [...document.querySelectorAll('g.node, g.edge, g.cluster')]
    .filter((g) => g !== frame).map((g) => g.getBoundingClientRect())
    .filter((r) => r.width * r.height < f.width * f.height);
  const near = (r, x, y) => x >= r.left - 2 && x <= r.right + 2 && y >= r.top - 2
    && y <= r.bottom + 2;
  for (let y = f.top + 8; y < f.bottom - 8; y += 3) {
    for (let x = f.left + 8; x < f.right - 8; x += 3) {
      if (!others.some((r) => near(r, x, y))) return [x, y];
    }
  }
  return null; }"""


@pytest.mark.browser
def test_a_click_in_the_empty_of_a_frame_folds_its_module(
    browser: Any,  # noqa: F811
    opened: list[Explorer],
    tmp_path: Path,
) -> None:
    path = tmp_path / "small.html"
    path.write_text(to_html(small(), folded=fold(small())), encoding="utf-8")
    page = open_at(browser, opened, path, SIZES[0])
    spot = page.page.evaluate(EMPTY_SPOT, "model.0")
    assert spot is not None
    x, y = spot
    # a drag that starts there pans and folds nothing
    before = page.view_box()
    page.page.mouse.move(x, y)
    page.page.mouse.down()
    page.page.mouse.move(x + 40, y + 30, steps=4)
    page.page.mouse.up()
    assert page.view_box() != before
    assert page.page.locator('g.node[data-module="model.0"]').count() == 0
    # a node inside the frame is still selected by a click
    page.page.click('[data-node="n3"]')
    assert "id\tn3" in page.details()
    # and a click on the frame's empty area folds it
    spot = page.page.evaluate(EMPTY_SPOT, "model.0")
    assert spot is not None
    page.laid_out_after(lambda: page.page.mouse.click(*spot))
    assert page.label('g.node[data-module="model.0"]') == "module model.0 ×3"
    assert sorted(page.drawn()) == ["n0", "n1", "n2", "n4", "n6"]
    assert page.page.evaluate(INSIDE, 'g.node[data-module="model.0"]') == [True]
