"""The writers of a run's gradient flow on hand-built flows: the sparkline, JSON, CSV and SVG."""

from __future__ import annotations

import json
import math
from xml.etree import ElementTree

from graphviz_autograd.renderers.flow import Scale, sparkline, to_csv, to_json
from graphviz_autograd.renderers.flow_svg import LABELLED, to_svg
from graphviz_autograd.transform.flow import Flow, FlowRow

SVG = "{http://www.w3.org/2000/svg}"
NAN, INF = math.nan, math.inf


def test_a_sparkline_is_at_most_forty_columns_on_a_log_scale() -> None:
    decades = [10.0 ** (k // 100 - 3) for k in range(300)]  # 1e-3 for 100 steps, 1e-2, 1e-1
    line = sparkline(decades, Scale(1e-3, 1e-1))
    assert len(line) == 40
    assert (line[0], line[20], line[-1]) == ("▁", "▅", "█")
    assert sparkline([1.0, NAN, INF, 0.0], Scale(1.0, 10.0)) == "▁·!▁"
    assert sparkline([NAN, NAN], None) == "··"


def test_json_and_csv_write_no_gradient_as_null_and_nonfinite_as_inf() -> None:
    flow = Flow(("1", "2"), (FlowRow("a,b", "param", 1, (NAN, INF)),))
    doc = json.loads(to_json(flow))
    assert doc["rows"] == [{"name": "a,b", "kind": "param", "params": 1, "norms": [None, "inf"]}]
    assert to_csv(flow) == 'step,name,kind,params,norm\n1,"a,b",param,1,\n2,"a,b",param,1,inf\n'


def test_csv_writes_a_name_a_spreadsheet_would_run_as_inert_text() -> None:
    names = ('=HYPERLINK("http://x")', "+1", "-cmd|' /C calc'!A0", "@SUM(A1)", "a=b")
    flow = Flow(("1",), tuple(FlowRow(name, "param", 1, (1.0,)) for name in names))
    cells = [line.split(",", 2)[1] for line in to_csv(flow).splitlines()[1:]]
    inert = ['"\'=HYPERLINK(""http://x"")"', "'+1", "'-cmd|' /C calc'!A0", "'@SUM(A1)", "a=b"]
    assert cells == inert


def test_svg_escapes_names_and_labels_the_ends_of_many_rows() -> None:
    evil = '<script>alert("&")</script>'
    rows = tuple(
        FlowRow(evil if k == 0 else f"layer.{k}", "module", 2, (10.0**-k, 10.0 ** (-k - 1), INF))
        for k in range(LABELLED + 5)
    )
    text = to_svg(Flow(("1", "2", "3"), rows))
    svg = ElementTree.fromstring(text)
    assert not [e for e in svg.iter() if e.tag == f"{SVG}script"] and "<script" not in text
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.text and t.text.startswith(("<", "l"))]
    assert evil in labels and len(labels) == LABELLED  # the five highest and the five lowest
    assert "(5 more rows in grey)" in text
    assert len(list(svg.iter(f"{SVG}circle"))) == len(rows)  # each row's Inf, on top
    ticks = [t for t in svg.iter(f"{SVG}text") if t.text == "10"]
    assert len(ticks) == 8  # 1e-15 to 1e0: past ten decades, every other one
