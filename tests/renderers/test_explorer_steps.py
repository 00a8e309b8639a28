"""A whole run on one page (``gradviz run SCRIPT --call all -o run.html``) in Chromium: the step
control moves what the graph and a node's details say, keys and play move it, the flow view
lists each layer and lights it in the graph, a change of structure is marked and the nodes a
call does not have are faded; no request leaves the page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Gradviz
from test_explorer import Explorer, browser  # noqa: F401 (browser: the fixture)

SAMPLES = Path(__file__).parents[2] / "samples"

# The third call's graph has one op more than the others.
TWO_STRUCTURES = """\
import torch

x = torch.tensor([1.0, 2.0, 3.0])
w = torch.tensor(0.5, requires_grad=True)
for step in range(4):
    y = w * x
    if step == 2:
        y = y.exp()
    loss = y.sum()
    loss.backward()
"""

# Eight identical blocks of two layers: more nodes than a page opens with, so the blocks open
# folded and their layers are drawn inside nothing of their own.
FOLDED_LAYERS = """\
import torch
from torch import nn

torch.manual_seed(0)


def block():
    return nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh())


model = nn.Sequential(*[block() for _ in range(8)])
x = torch.randn(3, 4)
for step in range(3):
    model.zero_grad()
    model(x).pow(2).mean().backward()
"""


@pytest.fixture
def run_page(
    browser: Any,  # noqa: F811
    gradviz: Gradviz,
    tmp_path: Path,
) -> Iterator[Callable[[Path], Explorer]]:
    pages: list[Explorer] = []

    def opener(script: Path) -> Explorer:
        done = gradviz("run", script, "--call", "all", "-o", "run.html", cwd=tmp_path)
        assert done.returncode == 0, done.output
        pages.append(Explorer(browser, tmp_path / "run.html", (1400, 900)))
        return pages[-1]

    yield opener
    for page in pages:
        assert page.errors == []
        assert [url for url in page.requests if not url.startswith("file:")] == []
        page.page.close()


def node_named(page: Explorer, name: str) -> str:
    """The id of the drawn node whose label's first line is ``name``."""
    found = page.page.eval_on_selector_all(
        "g.node[data-node]",
        "(els, name) => els.filter(g => g.querySelector('text')?.textContent === name)"
        ".map(g => g.getAttribute('data-node'))",
        name,
    )
    assert len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


def grad_rows(page: Explorer) -> dict[str, str]:
    """The rows of the gradient's table in the details panel."""
    rows = page.page.eval_on_selector_all(
        "#details table.stats tr",
        "trs => trs.map(tr => [tr.cells[0].textContent, tr.cells[1].textContent])",
    )
    return dict(rows)


def fill_of(page: Explorer, node: str) -> str:
    return page.page.eval_on_selector(  # type: ignore[no-any-return]
        f'g.node[data-node="{node}"]', "g => g.querySelector('path, polygon').getAttribute('fill')"
    )


@pytest.mark.browser
def test_the_step_control_moves_a_leafs_details_label_and_shade(
    run_page: Callable[[Path], Explorer],
) -> None:
    page = run_page(SAMPLES / "accumulate.py")
    assert page.page.is_visible("#step")
    assert page.page.inner_text("#step-name") == "step 3 of 3 · call 3"  # opens at the last
    w = node_named(page, "w")
    page.page.click(f'g.node[data-node="{w}"]')
    seen = {}
    for step, value in ((0, "-14"), (1, "-28"), (2, "-42")):
        page.page.fill("#step", str(step))
        assert page.page.inner_text("#step-name") == f"step {step + 1} of 3 · call {step + 1}"
        rows = grad_rows(page)
        norm = value.lstrip("-")
        assert (rows["norm"], rows["min"], rows["max"], rows["mean"]) == (norm, value, value, value)
        assert f"grad={value}" in page.label(f'g.node[data-node="{w}"]')  # the label, in place
        assert (
            page.page.inner_text(".spark-caption")
            == f"call {step + 1} (step {step + 1}): ‖·‖={norm}"
        )
        seen[step] = fill_of(page, w)
    assert seen[0] != seen[2]  # one scale for all steps: 14 and 42 are shaded apart
    assert seen[2] == "#08519c"  # the largest leaf norm of the run: the darkest leaf shade
    assert page.page.locator("#details svg.spark").count() == 1
    key = page.page.get_attribute(f'g.node[data-node="{w}"]', "data-key")
    along = page.page.locator(f'g.edge[data-src="{key}"]')  # w -> y = w * x
    assert along.get_attribute("data-grad") == "‖·‖=14"  # what flowed to w in this call
    assert along.locator("title").text_content() == "gradient along this edge in call 3: ‖·‖=14"
    assert int(page.page.get_attribute("body", "data-layouts") or 0) == 1  # no new layout
    assert "one for all 3 steps" in page.page.inner_text("footer")


@pytest.mark.browser
def test_keys_and_play_move_the_step(run_page: Callable[[Path], Explorer]) -> None:
    page = run_page(SAMPLES / "accumulate.py")
    step = lambda: page.page.get_attribute("body", "data-step")  # noqa: E731
    page.page.focus("#canvas")
    page.page.keyboard.press("Home")
    assert step() == "0"
    page.page.keyboard.press("ArrowRight")
    assert step() == "1"
    page.page.keyboard.press("[")
    assert step() == "0"
    page.page.keyboard.press("End")
    assert step() == "2"
    page.page.keyboard.press("Home")
    page.page.keyboard.press(" ")  # play
    assert page.page.get_attribute("body", "data-playing") == "1"
    page.page.wait_for_selector("body[data-step='2'][data-playing='0']", timeout=10_000)
    page.page.click("#play")  # from the last step, play starts again at the first
    page.page.wait_for_selector("body[data-step='2'][data-playing='0']", timeout=10_000)
    page.page.fill("#search", "w ")  # keys typed in the search box do not step
    assert step() == "2"


@pytest.mark.browser
def test_the_flow_view_lists_layers_and_lights_them_in_the_graph(
    run_page: Callable[[Path], Explorer],
) -> None:
    page = run_page(SAMPLES / "accumulate.py")
    assert not page.page.is_visible("#flow")
    page.page.click("#flow-toggle")
    rows = page.page.locator("#flow li[data-row]")
    assert rows.count() == 1
    assert rows.first.locator(".name").inner_text() == "w"
    assert rows.first.locator(".value").inner_text() == "42"
    assert page.page.locator("#flow svg.flow-chart g.row path.line").count() == 1
    w = node_named(page, "w")
    rows.first.hover()
    assert page.page.eval_on_selector_all(
        "#canvas g.lit", "els => els.map(e => e.getAttribute('data-node'))"
    ) == [w]
    page.page.mouse.move(5, 5)
    assert page.page.locator("#canvas g.lit").count() == 0
    x, y = page.page.eval_on_selector(  # a point on the line itself
        "#flow svg.flow-chart g.row path.hit",
        "p => { const q = p.getPointAtLength(p.getTotalLength() / 2)"
        ".matrixTransform(p.getScreenCTM()); return [q.x, q.y]; }",
    )
    page.page.mouse.move(x, y)
    assert page.page.locator(f'#canvas g.lit[data-node="{w}"]').count() == 1
    rows.first.click()
    assert page.page.get_attribute("g.node.selected", "data-node") == w
    page.page.fill("#step", "0")
    assert rows.first.locator(".value").inner_text() == "14"


@pytest.mark.browser
def test_a_layer_folded_away_is_lit_through_what_holds_it(
    run_page: Callable[[Path], Explorer], tmp_path: Path
) -> None:
    script = tmp_path / "layers.py"
    script.write_text(FOLDED_LAYERS)
    page = run_page(script)
    page.page.click("#flow-toggle")
    row = page.page.locator("#flow li[data-row]", has_text="model.3.0")
    assert row.count() == 1
    assert (
        page.page.locator('#canvas g.node[data-node] text:text-is("model.3.0.weight")').count() == 0
    )
    row.hover()  # its module is folded: the folded node (or run) that holds it lights up
    lit = page.page.eval_on_selector_all(
        "#canvas g.lit",
        "els => els.map(e => e.getAttribute('data-run') || e.getAttribute('data-module'))",
    )
    assert len(lit) == 1 and lit[0] is not None, lit


@pytest.mark.browser
def test_a_change_of_structure_is_marked_and_absent_nodes_are_faded(
    run_page: Callable[[Path], Explorer],
    tmp_path: Path,
) -> None:
    script = tmp_path / "two_structures.py"
    script.write_text(TWO_STRUCTURES, encoding="utf-8")
    page = run_page(script)
    marks = page.page.eval_on_selector_all(
        "#changes .change", "els => els.map(e => e.getAttribute('data-step'))"
    )
    assert marks == ["2", "3"]  # the third call changes the graph, the fourth changes it back
    assert "changes at 2 steps" in page.page.inner_text("#step-note")
    exp = node_named(page, "y = ExpBackward0")
    node = page.page.locator(f'g.node[data-node="{exp}"]')
    assert "absent" in (node.get_attribute("class") or "")  # the last call has no exp
    assert node.locator("title").text_content() == "not in this call's graph"
    page.page.fill("#step", "2")
    assert "absent" not in (node.get_attribute("class") or "")
    assert node.locator("title").count() == 0
    page.page.fill("#step", "1")
    assert "absent" in (node.get_attribute("class") or "")
