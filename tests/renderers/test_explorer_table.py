"""The explorer's table of the graph in Chromium: nodes or modules as rows, sorted by a click on
a column's head, filtered, with min, max and mean under the numeric columns; a click on a row
selects its node in the graph."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_explorer import EVIL, Explorer, browser, evil  # noqa: F401 (browser: the fixture)
from test_explorer_search import (
    assert_shown_centred_and_selected,
    matching,
    stack_graph,
    write_page,
)

from graphviz_autograd import Graph, Node
from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.transform.fold import fold

ROWS = "els => els.map(e => e.getAttribute('data-row'))"


@pytest.fixture(scope="module")
def stack() -> Graph:
    return stack_graph(show_saved=True)


@pytest.fixture
def table(browser: Any, stack: Graph, tmp_path: Path) -> Iterator[Explorer]:  # noqa: F811
    page = Explorer(browser, write_page(stack, tmp_path / "stack.html"), (1400, 900))
    assert page.page.locator("#table").is_hidden()
    page.page.click("#table-toggle")
    yield page
    assert page.errors == []
    page.page.close()


def norm(node: Node) -> float | None:
    value = None if node.grad is None else node.grad.norm
    return None if value is None or math.isnan(value) else value


def saved(node: Node) -> int | None:
    # an op lists what it saved, even nothing; another node only what it has
    return sum(t.bytes or 0 for t in node.saved) if node.saved or node.kind == "op" else None


FIGURES = {"grad": norm, "order": lambda n: n.order, "saved": saved}


def footer(page: Explorer) -> dict[tuple[str, str], float | None]:
    cells = page.page.eval_on_selector_all(
        "#table tfoot td[data-stat]",
        "tds => tds.map(td => [td.getAttribute('data-column'), td.getAttribute('data-stat'),"
        " td.getAttribute('data-value')])",
    )
    return {(c, s): None if v is None else float(v) for c, s, v in cells}


def expected_footer(values: list[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"min": None, "max": None, "mean": None}
    return {"min": min(known), "max": max(known), "mean": sum(known) / len(known)}


def assert_footer(page: Explorer, nodes: list[Node]) -> None:
    shown = footer(page)
    for column, figure in FIGURES.items():
        for stat, value in expected_footer([figure(n) for n in nodes]).items():
            if value is None:
                assert shown[column, stat] is None, (column, stat)
            else:
                assert shown[column, stat] == pytest.approx(value, rel=1e-12), (column, stat)


@pytest.mark.browser
def test_the_table_lists_the_nodes_with_their_figures_over_all_rows(
    table: Explorer, stack: Graph
) -> None:
    page = table
    n = len(stack)
    assert n > 200
    assert page.page.inner_text("#table-count") == f"showing 200 of {n} rows; filter to narrow"
    assert page.page.locator("#table tbody tr").count() == 200
    assert None not in footer(page).values()
    assert_footer(page, list(stack.nodes))
    # filtered with the search's matcher: the figures follow the rows
    page.page.fill("#table-filter", r"c_attn\.(weight|bias)$")
    rows = page.page.eval_on_selector_all("#table tbody tr", ROWS)
    expected = matching(stack, r"c_attn\.(weight|bias)$")
    assert sorted(rows) == sorted(expected) and len(rows) == 40
    assert page.page.inner_text("#table-count") == "40 rows"
    assert_footer(page, [node for node in stack.nodes if node.id in expected])


@pytest.mark.browser
def test_a_click_on_a_column_head_sorts_by_it(table: Explorer, stack: Graph) -> None:
    page = table
    index = {node.id: k for k, node in enumerate(stack.nodes)}

    def by_norm(node: Node, sign: int) -> tuple[int, float, int]:
        value = norm(node)
        return (value is None, 0.0 if value is None else sign * value, index[node.id])

    page.page.click("#table th[data-column=grad]")  # biggest first
    assert page.page.get_attribute("#table th[data-column=grad]", "aria-sort") == "descending"
    highest = [n.id for n in sorted(stack.nodes, key=lambda n: by_norm(n, -1))]
    assert page.page.eval_on_selector_all("#table tbody tr", ROWS) == highest[:200]
    page.page.click("#table th[data-column=grad]")  # then smallest first, none still last
    lowest = [n.id for n in sorted(stack.nodes, key=lambda n: by_norm(n, 1))]
    assert page.page.eval_on_selector_all("#table tbody tr", ROWS) == lowest[:200]
    # a page that follows a run's steps tells the table so: it is drawn again, sorted alike
    page.page.evaluate("document.dispatchEvent(new Event('gradviz:step'))")
    assert page.page.eval_on_selector_all("#table tbody tr", ROWS) == lowest[:200]
    first = page.page.inner_text("#table tbody tr:first-child td.num")
    assert float(first) == pytest.approx(norm(stack.nodes[index[lowest[0]]]) or 0, rel=1e-3)


@pytest.mark.browser
def test_modules_as_rows_sum_saved_bytes_and_take_the_largest_norm(
    table: Explorer, stack: Graph
) -> None:
    page = table
    page.page.select_option("#table-rows", "modules")
    page.page.fill("#table-filter", r"^model\.h\.3$")
    assert page.page.eval_on_selector_all(
        "#table tbody tr", "els => els.map(e => e.getAttribute('data-row-module'))"
    ) == ["model.h.3"]
    inside = [
        n for n in stack.nodes if n.module is not None and f"{n.module}.".startswith("model.h.3.")
    ]
    shown = footer(page)
    assert shown["grad", "max"] == pytest.approx(max(norm(n) or 0 for n in inside), rel=1e-12)
    assert shown["saved", "min"] == sum(saved(n) or 0 for n in inside) > 0
    assert shown["order", "min"] == min(n.order for n in inside if n.order is not None)


@pytest.mark.browser
def test_a_click_on_a_row_selects_its_node_in_the_graph(table: Explorer, stack: Graph) -> None:
    page = table
    weight = next(n.id for n in stack.nodes if n.name == "model.h.5.c_attn.weight")
    assert weight not in page.drawn()
    page.page.fill("#table-filter", "h\\.5\\.c_attn\\.weight")
    page.laid_out_after(lambda: page.page.click(f'#table tr[data-row="{weight}"]'))
    assert weight in page.drawn()
    assert_shown_centred_and_selected(page, weight)


@pytest.mark.browser
def test_names_in_the_table_are_text(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "evil.html"
    path.write_text(to_html(evil(), folded=fold(evil())), encoding="utf-8")
    page = Explorer(browser, path)
    try:
        page.page.click("#table-toggle")
        page.page.select_option("#table-rows", "modules")
        page.page.select_option("#table-rows", "nodes")
        assert EVIL in page.page.inner_text("#table tbody")
        assert page.page.locator("img").count() == 0
        assert page.page.evaluate("window.pwned") is None
        assert page.errors == []
    finally:
        page.page.close()
