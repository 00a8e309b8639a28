"""The explorer's search in Chromium: it covers every node of the graph, drawn or folded away,
lists the matches by module, and choosing one opens what hides it, centres it and selects it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from test_explorer import Explorer, browser, wide  # noqa: F401 (browser: the fixture)
from torch import nn

from graphviz_autograd import Graph, capture, render
from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.transform.fold import fold

LAYERS = 20


class Block(nn.Module):
    """A transformer block's shape in plain torch: its attention input is a Linear ``c_attn``."""

    def __init__(self) -> None:
        super().__init__()
        self.c_attn = nn.Linear(8, 8)
        self.c_proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.c_proj(torch.tanh(self.c_attn(x)))
        return out


class Stack(nn.Module):
    def __init__(self, layers: int) -> None:
        super().__init__()
        self.h = nn.ModuleList(Block() for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.h:
            x = block(x)
        return x.pow(2).mean()


def stack_graph(*, show_saved: bool = False) -> Graph:
    """20 identical blocks, captured with modules and source lines (202 nodes)."""
    torch.manual_seed(0)
    model = Stack(LAYERS)
    with capture(modules=True, source=True, show_saved=show_saved) as cap:
        model(torch.randn(4, 8)).backward()
    return cap.graph


def texts(graph: Graph) -> dict[str, str]:
    """What the search reads of each node (the page's searchText)."""
    out = {}
    for node in graph.nodes:
        parts = [node.id, node.kind, node.op, node.name, node.module]
        if node.source is not None:
            parts += [f"{node.source.file}:{node.source.line}", node.source.code]
        out[node.id] = "\n".join(p for p in parts if p is not None).lower()
    return out


def matching(graph: Graph, pattern: str) -> set[str]:
    found = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
    return {node_id for node_id, text in texts(graph).items() if found.search(text)}


def write_page(graph: Graph, path: Path) -> Path:
    # folded to a small budget: the 20 blocks are drawn as one, ×19
    path.write_text(to_html(graph, folded=fold(graph, max_nodes=60)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack() -> Graph:
    return stack_graph()


@pytest.fixture
def stack_page(browser: Any, stack: Graph, tmp_path: Path) -> Iterator[Explorer]:  # noqa: F811
    page = Explorer(browser, write_page(stack, tmp_path / "stack.html"), (1400, 900))
    yield page
    assert page.errors == []
    page.page.close()


def results(page: Explorer) -> list[str]:
    return page.page.eval_on_selector_all(  # type: ignore[no-any-return]
        "[data-result]", "els => els.map(e => e.getAttribute('data-result'))"
    )


SELECTED_OFF_CENTRE = """() => {
  // the selected node's centre from the canvas's, in canvas widths and heights
  const c = document.getElementById('canvas').getBoundingClientRect();
  const r = document.querySelector('g.node.selected').getBoundingClientRect();
  return [(r.left + r.width / 2 - c.left - c.width / 2) / c.width,
          (r.top + r.height / 2 - c.top - c.height / 2) / c.height]; }"""


def assert_shown_centred_and_selected(page: Explorer, node_id: str) -> None:
    assert page.page.get_attribute("g.node.selected", "data-node") == node_id
    dx, dy = page.page.evaluate(SELECTED_OFF_CENTRE)
    assert abs(dx) < 0.05 and abs(dy) < 0.05
    assert f"id\t{node_id}" in page.details()


@pytest.mark.browser
def test_search_lists_every_match_folded_or_not_by_module(
    stack_page: Explorer, stack: Graph
) -> None:
    page = stack_page
    expected = matching(stack, "c_attn")
    # the 20 layers' c_attn: weight, bias, the Linear's ops, and the ops whose line calls it
    assert len(expected) >= 4 * LAYERS
    assert {f"model.h.{k}.c_attn" for k in range(LAYERS)} <= {n.module for n in stack.nodes}
    drawn = set(page.drawn())
    assert len(expected - drawn) > 3 * LAYERS  # most of them are folded away at first
    page.page.locator("input[type=search]").fill("c_attn")
    assert page.page.inner_text("#found") == f"{len(expected)} found"
    listed = results(page)
    assert sorted(listed) == sorted(expected)
    # grouped by module, layers in numeric order; a group lists its nodes in graph order
    groups = page.page.eval_on_selector_all(
        "#results .group",
        "gs => gs.map(g => [g.querySelector('.module').textContent,"
        " [...g.querySelectorAll('[data-result]')].map(e => e.getAttribute('data-result'))])",
    )
    by_id = {node.id: node for node in stack.nodes}
    for module, members in groups:
        assert {by_id[i].module or "outside modules" for i in members} == {module}
        assert members == sorted(members, key=lambda i: int(i[1:]))
    paths = [module for module, _ in groups]
    assert paths.index("model.h.2.c_attn") < paths.index("model.h.10.c_attn")


@pytest.mark.browser
def test_choosing_a_folded_away_result_opens_centres_and_selects_it(
    stack_page: Explorer, stack: Graph
) -> None:
    page = stack_page
    weight = next(n.id for n in stack.nodes if n.name == "model.h.3.c_attn.weight")
    assert weight not in page.drawn()
    page.page.locator("input[type=search]").fill("c_attn")
    page.laid_out_after(lambda: page.page.click(f'[data-result="{weight}"]'))
    assert weight in page.drawn()
    assert_shown_centred_and_selected(page, weight)
    k = results(page).index(weight)
    assert page.page.inner_text("#found") == f"{k + 1} of {len(results(page))}"
    # with the keyboard: the arrows point at a result, Enter chooses it
    box = page.page.locator("input[type=search]")
    box.fill("model\\.h\\.17\\.c_proj\\.bias")
    assert results(page) == [n.id for n in stack.nodes if n.name == "model.h.17.c_proj.bias"]
    box.press("ArrowDown")
    assert page.page.locator("#results .result.active").count() == 1
    page.laid_out_after(lambda: box.press("Enter"))
    assert_shown_centred_and_selected(page, results(page)[0])


@pytest.mark.browser
def test_search_takes_regular_expressions_and_plain_text_where_not_one(
    stack_page: Explorer, stack: Graph
) -> None:
    page = stack_page
    box = page.page.locator("input[type=search]")
    pattern = r"c_attn\.weight$|h\.1[0-2]\.c_proj\.bias$"
    box.fill(pattern)
    expected = matching(stack, pattern)
    assert len(expected) == LAYERS + 3
    assert sorted(results(page)) == sorted(expected)
    # not a regular expression: the plain text, found in the source lines that call c_attn
    box.fill("c_attn(x")
    calls = {i for i, text in texts(stack).items() if "c_attn(x" in text}
    assert len(calls) >= LAYERS
    assert sorted(results(page)) == sorted(calls)
    assert page.page.inner_text("#found") == f"{len(calls)} found"
    box.fill("no such (")
    assert page.page.inner_text("#found") == "no match"
    assert results(page) == []


@pytest.mark.browser
def test_a_huge_result_set_lists_the_first_500_and_counts_all(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    graph = wide(2000)
    path = tmp_path / "wide.html"
    path.write_text(to_html(graph, folded=fold(graph)), encoding="utf-8")
    page = Explorer(browser, path)
    try:
        page.page.locator("input[type=search]").fill("MulBackward0")
        assert page.page.inner_text("#found") == "2000 found"
        assert len(results(page)) == 500
        assert "and 1,500 more" in page.page.inner_text("#results")
        assert len(page.drawn()) < 10
        assert page.errors == []
    finally:
        page.page.close()


@pytest.mark.browser
def test_a_20_layer_gpt2_lists_all_its_layers_c_attn(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    transformers = pytest.importorskip("transformers", reason="needs the bench extra")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=LAYERS, n_embd=64, n_head=4, vocab_size=500, n_positions=32,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    model = transformers.GPT2LMHeadModel(config)
    tokens = torch.randint(0, 500, (2, 8))
    with capture(modules=True, source=True) as cap:
        model(tokens, labels=tokens).loss.backward()
    graph = cap.graph
    render(graph, tmp_path / "gpt2.html")
    page = Explorer(browser, tmp_path / "gpt2.html", (1400, 900))
    try:
        page.page.locator("input[type=search]").fill("c_attn")
        listed = set(results(page))
        assert listed == matching(graph, "c_attn")
        by_id = {node.id: node for node in graph.nodes}
        for k in range(LAYERS):  # each layer's weight, bias and the Linear's ops
            path = f"model.transformer.h.{k}.attn.c_attn"
            layer = {i for i in listed if by_id[i].module == path}
            assert {f"{path}.weight", f"{path}.bias"} <= {by_id[i].name for i in layer}
            assert "AddmmBackward0" in {by_id[i].op for i in layer}
        hidden = sorted(listed - set(page.drawn()), key=lambda i: int(i[1:]))
        page.laid_out_after(lambda: page.page.click(f'[data-result="{hidden[0]}"]'))
        assert_shown_centred_and_selected(page, hidden[0])
        assert page.errors == []
    finally:
        page.page.close()
