"""The doctor's report as an explorer page (``gradviz doctor SCRIPT -o report.html``) in
Chromium: the findings beside the graph, their nodes outlined, a click on a finding selects its
node and the details panel lists the finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Gradviz
from test_explorer import Explorer, blocks, browser  # noqa: F401 (browser: the fixture)

from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.renderers.marks import Mark
from graphviz_autograd.transform.fold import fold

PITFALLS = Path(__file__).parents[2] / "samples" / "pitfalls"


def opened(browser: Any, path: Path) -> Explorer:  # noqa: F811
    page = Explorer(browser, path, (1400, 800))
    return page


@pytest.mark.browser
def test_clicking_a_finding_selects_its_node_and_the_details_list_it(
    browser: Any,  # noqa: F811
    gradviz: Gradviz,
    tmp_path: Path,
) -> None:
    done = gradviz("doctor", PITFALLS / "inplace.py", "-o", "report.html", cwd=tmp_path)
    assert done.returncode == 4
    page = opened(browser, tmp_path / "report.html")
    try:
        items = page.page.locator("#findings li.finding")
        assert items.count() == 1
        assert page.page.inner_text("#findings .summary") == "1 error"
        text = items.first.inner_text()
        assert "inplace-modified" in text and "fix:" in text and "inplace.py:15" in text
        marked = page.page.locator("g.node[data-severity=error]")
        assert marked.count() == 1
        exp = marked.first.get_attribute("data-node")
        assert "inplace-modified" in (marked.first.text_content() or "")  # the code beside it
        assert "ExpBackward0" in page.label(f'g.node[data-node="{exp}"]')
        items.first.click()
        assert page.page.get_attribute("g.node.selected", "data-node") == exp
        details = page.details()
        assert "ExpBackward0" in details.splitlines()[0]
        assert "finding" in details and "inplace-modified" in details
        assert "Use the out-of-place op" in details  # the fix
        assert page.errors == []
    finally:
        page.page.close()


@pytest.mark.browser
def test_a_finding_inside_a_folded_module_opens_it(
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    graph = blocks(12)  # opens with its modules folded
    deep = next(n for n in graph.nodes if n.module == "model.11.0")
    marks = (
        Mark("vanishing", "warning", "small", "fix", (deep.id,)),
        Mark("unused-param", "warning", "not here", "fix", ()),
    )
    path = tmp_path / "page.html"
    path.write_text(to_html(graph, folded=fold(graph), marks=marks), encoding="utf-8")
    page = opened(browser, path)
    try:
        alone = f'g.node[data-node="{deep.id}"]:not([data-module])'
        assert page.page.locator(alone).count() == 0  # inside a folded module
        folded = page.page.locator('g.node[data-severity=warning][data-module="model.11.0"]')
        assert folded.count() == 1  # the folded module is outlined for what it holds
        items = page.page.locator("#findings li.finding")
        assert "not a node of this graph" in items.nth(1).inner_text()
        page.laid_out_after(lambda: items.first.click())
        assert page.page.get_attribute("g.node.selected", "data-node") == deep.id
        assert page.page.locator(alone).get_attribute("data-severity") == "warning"
        assert "vanishing" in page.details()
        assert page.errors == []
    finally:
        page.page.close()
