"""Repeated blocks in the explorer: a model of 20 identical blocks opens as its blocks, or as one
node saying what it stands for, never as one block ×20; weight and bias stay two nodes; folded
modules carry their gradient figures (shade, min / median / max, saved bytes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from test_explorer import Explorer, browser, data_of  # noqa: F401 (browser: the fixture)
from torch import nn

from graphviz_autograd import capture, render
from graphviz_autograd.model import Graph
from graphviz_autograd.renderers.explorer_folds import module_runs
from graphviz_autograd.renderers.html import page_data
from graphviz_autograd.renderers.style import GRAD_RAMP
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.fold import fold, fold_repeats

BLOCKS = 20
BUDGET = 60
"""A node budget the 20 blocks fold to: as a 20-layer GPT-2 folds to the default one."""


class Block(nn.Module):
    """A small transformer-like block: norm, linear, residual."""

    def __init__(self) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.tanh(self.fc(self.ln(x)))


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.h = nn.ModuleList(Block() for _ in range(BLOCKS))
        self.ln_f = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


def stack_graph(show_saved: bool = False) -> Graph:
    """The graph of `Stack` (20 blocks in a ModuleList, then a final norm), its modules known;
    past `BUDGET`, so that it folds."""
    torch.manual_seed(0)
    model = Stack()
    with capture(modules=True, show_saved=show_saved) as cap:
        model(torch.randn(4, 8)).pow(2).sum().backward()
    graph = cap.graph
    assert len(fold(graph, max_nodes=BUDGET)) < len(graph)  # the folding this is about
    return graph


def test_weight_and_bias_of_a_norm_never_fold_into_one() -> None:
    norm = nn.LayerNorm(8)
    loss = norm(torch.randn(2, 8)).sum()
    graph = fold_repeats(build_graph(loss, params=dict(norm.named_parameters())))
    names = sorted(n.name for n in graph.nodes if n.kind == "leaf")
    assert names == ["bias", "weight"]
    assert all(n.count == 1 for n in graph.nodes)


def test_the_20_blocks_are_one_run_and_the_page_folds_no_block_into_another() -> None:
    graph = stack_graph()
    runs = module_runs(graph)
    assert [(r.parent, len(r.members)) for r in runs] == [("model.h", BLOCKS)]
    assert runs[0].members[0] == "model.h.0" and runs[0].members[-1] == "model.h.19"
    data = page_data(graph, folded=fold(graph, max_nodes=BUDGET))
    modules = [n.module for n in graph.nodes]
    assert all(modules[r] == modules[i] for i, r in enumerate(data["rep"]))
    assert data["runs"] == [
        {"parent": "model.h", "members": [f"model.h.{k}" for k in range(BLOCKS)]}
    ]
    assert data["shading"]["ramp"] == list(GRAD_RAMP) and data["shading"]["high"] > 0


def test_pictures_keep_the_final_weight_and_bias_apart(tmp_path: Path) -> None:
    graph = stack_graph()
    final = {
        n.name: n.count for n in fold(graph, max_nodes=BUDGET).nodes if n.module == "model.ln_f"
    }
    assert final == {"model.ln_f.weight": 1, "model.ln_f.bias": 1, None: 1}
    dot = render(graph, tmp_path / "g.dot", max_nodes=BUDGET).read_text(encoding="utf-8")
    assert dot.count("module: model.ln_f") == 3 and "weight ×2" not in dot


@pytest.fixture
def stack_page(browser: Any, tmp_path: Path) -> Iterator[Explorer]:  # noqa: F811
    """The explorer of `stack_graph` (saved tensors recorded) folded to `BUDGET`, opened."""
    render(stack_graph(show_saved=True), tmp_path / "s.html", max_nodes=BUDGET)
    page = Explorer(browser, tmp_path / "s.html", (1400, 900))
    yield page
    assert page.errors == []
    page.page.close()


@pytest.mark.browser
def test_20_blocks_open_as_one_run_then_block_by_block_with_figures(stack_page: Explorer) -> None:
    page = stack_page
    labels = page.page.eval_on_selector_all(
        "g.node", "els => els.map(e => [...e.querySelectorAll('text')].map(t => t.textContent))"
    )
    text = " ".join(" ".join(lines) for lines in labels)
    assert "h.0–h.19" in text and "20 identical blocks" in text
    assert not re.search(r"×(\d{3,})", text)  # no block stands for the others
    assert "ln_f.weight" in text and "ln_f.bias" in text
    run = page.page.locator("g.node[data-run]")
    assert run.count() == 1 and run.get_attribute("data-run") == "model.h.0–h.19"
    assert run.locator("path, polygon").first.get_attribute("fill") in GRAD_RAMP
    assert re.search(r"min \S+ · median \S+ · max \S+", page.label("g.node[data-run]"))
    page.laid_out_after(lambda: run.dispatch_event("click"))
    shown = page.page.eval_on_selector_all(
        "g.node[data-module]", "els => els.map(e => e.getAttribute('data-module'))"
    )
    assert sorted(shown, key=lambda p: int(p.split(".")[-1])) == [f"model.h.{k}" for k in range(20)]
    block = 'g.node[data-module="model.h.7"]'
    fill = page.page.locator(block).locator("path, polygon").first.get_attribute("fill")
    assert fill in GRAD_RAMP
    label = page.label(block)
    assert re.search(r"min \S+ · median \S+ · max \S+", label) and "saved" in label
    page.laid_out_after(lambda: page.page.dispatch_event(block, "click"))
    assert page.page.locator("g.cluster[data-module='model.h.7']").count() == 1
    assert page.page.locator("g.node[data-module]").count() == BLOCKS - 1  # it opens whole


@pytest.mark.browser
def test_a_folded_modules_details_give_its_figures(stack_page: Explorer) -> None:
    page = stack_page
    page.laid_out_after(lambda: page.page.dispatch_event("g.node[data-run]", "click"))
    assert page.page.locator('g.node[data-module="model.h.3"]').count() == 1
    # a click opens a folded module; its row in the table of modules selects it
    page.page.click("#table-toggle")
    page.page.select_option("#table-rows", "modules")
    page.laid_out_after(lambda: page.page.click('#table tr[data-row-module="model.h.3"]'))
    details = page.details()
    assert "median" in details and "max" in details and "saved, in all" in details


def test_the_page_data_of_a_model_says_its_saved_bytes() -> None:
    graph = stack_graph(show_saved=True)
    data = page_data(graph, folded=fold(graph, max_nodes=BUDGET))
    assert data["saved_of"] is not None and sum(data["saved_of"]) > 0
    assert len(data["saved_of"]) == len(graph)
    assert data_of  # the shared helper stays importable
