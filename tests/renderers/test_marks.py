"""Findings drawn on a graph (`renderers.marks`): the nodes each concerns outlined in DOT and
SVG, the legend's line per finding, and the explorer's data."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

import pytest

from graphviz_autograd.model import Edge, Graph, Node, Source
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.html import page_data, to_html
from graphviz_autograd.renderers.layout import run_dot
from graphviz_autograd.renderers.marks import MARK_COLOURS, Mark
from graphviz_autograd.transform.fold import fold

HOSTILE = '<script>alert(1)</script>"];x->y; &amp;'
SOURCE = Source("/home/u/train.py", 13, "y += 1  # in place")


def graph() -> Graph:
    """loss = (x.exp() + 1).sum(), with a second leaf w unused by the marks."""
    return Graph(
        nodes=(
            Node("n0", "op", op="SumBackward0", name="loss", shape=()),
            Node("n1", "op", op="AddBackward0", shape=(3,)),
            Node("n2", "op", op="ExpBackward0", shape=(3,)),
            Node("n3", "leaf", op="AccumulateGrad", name="x", is_leaf=True, shape=(3,)),
            Node("n4", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(3,)),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n1", 0), Edge("n3", "n2", 0), Edge("n4", "n1", 1)),
        roots=("n0",),
    )


MARKS = (
    Mark("inplace-modified", "error", "ExpBackward0 saved a tensor.", "Clone it.", ("n2",), SOURCE),
    Mark("grad-accumulation", "warning", "x summed two calls.", "Zero it.", ("n3", "n2")),
    Mark("unused-param", "warning", "spare is unused.", "Use it.", ()),
    Mark("frozen-param", "info", "w is frozen.", "Fine.", ("n4",)),
)


def statements(dot: str, node_id: str) -> list[str]:
    return re.findall(rf"^  {node_id} \[(.*)\];$", dot, re.M)


def svg_nodes(svg: str) -> dict[str, str]:
    """Node id -> the SVG of its group (up to the next node or edge), unescaped."""
    pieces = re.split(r'<g id="(?:node|edge)\d+" class="(?:node|edge)">', svg)[1:]
    found = (re.match(r"\s*<title>([^<]*)</title>", piece) for piece in pieces)
    return {m.group(1): html.unescape(p) for m, p in zip(found, pieces, strict=True) if m}


def test_golden_dot_with_marks(golden: Callable[[str, str], None]) -> None:
    golden("marks.dot", to_dot(graph(), marks=MARKS))


def test_each_node_is_outlined_in_its_most_severe_findings_colour_with_the_codes() -> None:
    dot = to_dot(graph(), marks=MARKS)
    assert statements(dot, "n2")[-1] == (
        f'color="{MARK_COLOURS["error"]}" penwidth=3 xlabel="inplace-modified, grad-accumulation"'
    )
    assert statements(dot, "n3")[-1].startswith(f'color="{MARK_COLOURS["warning"]}" penwidth=3')
    assert statements(dot, "n4")[-1].startswith(f'color="{MARK_COLOURS["info"]}" penwidth=3')
    assert len(statements(dot, "n1")) == len(statements(dot, "n0")) == 1  # not marked


def test_without_marks_the_dot_is_unchanged() -> None:
    assert to_dot(graph(), marks=()) == to_dot(graph()) == to_dot(graph(), marks=None)


def test_a_node_not_drawn_gets_no_statement_and_its_finding_says_so() -> None:
    marks = (Mark("detached", "warning", "gone", "fix", ("n99",)), *MARKS[2:3])
    dot = to_dot(graph(), marks=marks)
    assert "n99" not in dot
    assert dot.count("(no node drawn)") == 2


def test_the_legend_lists_each_finding_with_its_line() -> None:
    legend = to_dot(graph(), marks=MARKS).split("label=<", 1)[1]
    assert "<b>error inplace-modified at train.py:13</b>" in legend
    assert "<b>warning unused-param</b>" in legend
    assert legend.index("inplace-modified") < legend.index("frozen-param")


def test_hostile_finding_text_is_escaped_in_dot() -> None:
    marks = (Mark(HOSTILE, "error", HOSTILE, HOSTILE, ("n2",), Source("a.py", 1, HOSTILE)),)
    dot = to_dot(graph(), marks=marks)
    legend = dot.split("label=<", 1)[1].split("];\n", 1)[0]
    assert "<script" not in legend
    assert "&lt;script&gt;" in legend
    assert 'xlabel="<script>alert(1)</script>\\"];x->y; &amp;amp;"];' in dot


@pytest.mark.dot
def test_svg_outlines_the_marked_node_and_prints_hostile_text_literally() -> None:
    marks = (Mark("inplace-modified", "error", HOSTILE, "fix", ("n2",), SOURCE),)
    marks += (Mark(HOSTILE, "warning", "m", "fix", ("n4",)),)
    svg = run_dot(to_dot(graph(), marks=marks), "svg").decode()
    nodes = svg_nodes(svg)
    assert f'stroke="{MARK_COLOURS["error"]}" stroke-width="3"' in nodes["n2"]
    assert "inplace-modified" in nodes["n2"]  # the xlabel
    assert all(MARK_COLOURS["error"] not in nodes[n] for n in ("n0", "n1", "n3", "n4"))
    assert HOSTILE in nodes["n4"]
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]
    assert "<script" not in svg
    assert any("<script>alert(1)</script>" in t for t in texts)


def test_the_explorer_holds_the_findings_with_node_indices() -> None:
    data = page_data(graph(), folded=graph(), marks=MARKS)
    assert [f["code"] for f in data["findings"]] == [m.code for m in MARKS]
    first = data["findings"][0]
    assert first == {
        "code": "inplace-modified",
        "severity": "error",
        "colour": MARK_COLOURS["error"],
        "message": "ExpBackward0 saved a tensor.",
        "hint": "Clone it.",
        "where": "train.py:13",
        "line": "y += 1  # in place",
        "nodes": [2],
    }
    assert data["findings"][2]["nodes"] == []
    assert page_data(graph(), folded=graph())["findings"] is None


def test_hostile_findings_are_inert_in_the_page() -> None:
    marks = (Mark(HOSTILE, "error", HOSTILE, HOSTILE, ("n2",), Source(HOSTILE, 1, HOSTILE)),)
    page = to_html(graph(), folded=fold(graph()), marks=marks)
    assert "<title>gradviz doctor</title>" in page
    data = page.split('<script type="application/json" id="gradviz-data">', 1)[1]
    data = data.split("</script>", 1)[0]
    assert "<" not in data
    assert json.loads(data)["findings"][0]["message"] == HOSTILE
