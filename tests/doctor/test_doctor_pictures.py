"""``gradviz doctor SCRIPT -o report.svg`` (.dot .png .html): the recorded graph of the call with
the findings drawn on it, on the pitfall samples; and ``render(..., findings=cap.findings)``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd import capture, render
from graphviz_autograd.renderers.marks import MARK_COLOURS

ROOT = Path(__file__).resolve().parents[2]
PITFALLS = ROOT / "samples" / "pitfalls"
ERROR, WARNING = (f'color="{MARK_COLOURS[s]}" penwidth=3' for s in ("error", "warning"))


def outlined(dot: str) -> dict[str, str]:
    """Node id -> the outline statement gradviz added to it (the last statement of the node)."""
    found = re.findall(
        r'^  (n\d+) \[(color="#[0-9a-f]{6}" penwidth=3 xlabel="[^"]*")\];$', dot, re.M
    )
    return dict(found)


def node_of(dot: str, label: str) -> str:
    """The id of the node whose label begins with ``label``."""
    (node_id,) = re.findall(rf'^  (n\d+) \[tooltip="[^"]*" label="{re.escape(label)}', dot, re.M)
    return node_id


def doctor_to(gradviz: Gradviz, sample: str, tmp_path: Path, name: str, *more: str) -> str:
    done = gradviz("doctor", PITFALLS / f"{sample}.py", "-o", tmp_path / name, *more, cwd=tmp_path)
    assert done.returncode == 4, done.stderr  # exit codes as without a picture
    assert f"wrote {tmp_path / name}" in done.stderr
    return (tmp_path / name).read_text(encoding="utf-8")


def test_inplace_outlines_the_op_whose_saved_tensor_was_modified(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    dot = doctor_to(gradviz, "inplace", tmp_path, "report.dot")
    exp = node_of(dot, "ExpBackward0")
    assert outlined(dot) == {exp: f'{ERROR} xlabel="inplace-modified"'}
    assert "<b>error inplace-modified at inplace.py:15</b>" in dot


def test_nan_grad_outlines_the_ops_and_the_parameter_it_names(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    done = gradviz("doctor", PITFALLS / "nan_grad.py", "-o", "r.dot", cwd=tmp_path)
    assert done.returncode == 4
    assert "error nonfinite-grad" in done.stdout  # the report is printed too
    dot = (tmp_path / "r.dot").read_text(encoding="utf-8")
    ops = {node_of(dot, "distance = SqrtBackward0"), node_of(dot, "squared = SumBackward0")}
    marked = outlined(dot)
    assert set(marked) == ops | {node_of(dot, "a\\n")}
    assert set(marked.values()) == {f'{ERROR} xlabel="nonfinite-grad"'}


def test_one_run_writes_the_json_report_and_pictures_and_refuses_two_reports(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    sample = PITFALLS / "nan_grad.py"
    done = gradviz("doctor", sample, "-o", "r.json", "-o", "r.dot", "-o", "b.dot", cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "error nonfinite-grad" not in done.stdout  # the report went to r.json
    codes = [f["code"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]]
    assert "nonfinite-grad" in codes
    for name in ("r.dot", "b.dot"):
        dot = (tmp_path / name).read_text(encoding="utf-8")
        assert set(outlined(dot).values()) == {f'{ERROR} xlabel="nonfinite-grad"'}
    two = gradviz("doctor", sample, "-o", "a.json", "-o", "b.txt", cwd=tmp_path)
    assert two.returncode == 2 and two.stdout == ""
    both = "error: -o a.json and -o b.txt would each take the report: give one"
    assert two.stderr.strip() == both
    twice = gradviz("doctor", sample, "-o", "c.dot", "-o", "c.dot", cwd=tmp_path)
    assert (twice.returncode, twice.stderr.strip()) == (2, "error: -o c.dot is given twice")
    assert not {"a.json", "b.txt", "c.dot"} & {p.name for p in tmp_path.iterdir()}


def test_parameters_summed_over_calls_are_outlined_as_a_warning(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    dot = doctor_to(gradviz, "no_zero_grad", tmp_path, "r.dot")
    leaves = {node_of(dot, "weight\\n"), node_of(dot, "bias\\n")}
    assert outlined(dot) == dict.fromkeys(leaves, f'{WARNING} xlabel="grad-accumulation"')


def test_a_finding_with_no_node_in_the_graph_is_in_the_legend(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    dot = doctor_to(gradviz, "unused_param", tmp_path, "r.dot")
    assert outlined(dot) == {}
    assert "<b>warning unused-param at unused_param.py:28</b>" in dot
    assert "model.spare.weight, model.spare.bias require grad" in dot
    assert "(no node drawn)" in dot


@pytest.mark.dot
def test_svg_report_outlines_the_node_in_red(gradviz: Gradviz, tmp_path: Path) -> None:
    svg = doctor_to(gradviz, "inplace", tmp_path, "report.svg")
    group = svg.split("<title>", 1)[0]  # the header, then each node and edge
    assert group.lstrip().startswith("<?xml")
    exp = re.search(r"<title>(n\d+)</title>\s*<g [^>]*><a xlink:title=\"n\d+: ExpBackward0", svg)
    assert exp is not None
    body = svg[exp.start() :].split("</g>\n</g>", 1)[0]
    assert f'stroke="{MARK_COLOURS["error"]}" stroke-width="3"' in body
    assert "inplace&#45;modified" in svg


def test_json_stays_the_report_for_other_names_and_with_format_json(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    for name, more in (("report.json", ()), ("report.txt", ()), ("x.svg", ("--format", "json"))):
        text = doctor_to(gradviz, "inplace", tmp_path, name, *more)
        assert json.loads(text)["format"] == "gradviz-doctor"


def test_html_report_holds_the_findings_and_the_graph(gradviz: Gradviz, tmp_path: Path) -> None:
    page = doctor_to(gradviz, "nan_grad", tmp_path, "report.html")
    data = json.loads(page.split('id="gradviz-data">', 1)[1].split("</script>", 1)[0])
    (finding,) = data["findings"]
    assert finding["code"] == "nonfinite-grad" and finding["severity"] == "error"
    assert finding["where"] == "nan_grad.py:14"
    names = [data["ids"][i] for i in finding["nodes"]]
    assert len(names) == 3
    assert "<title>gradviz doctor</title>" in page


def test_no_recorded_call_draws_an_empty_graph_with_the_findings(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    dot = doctor_to(gradviz, "non_scalar", tmp_path, "r.dot")
    assert "error non-scalar-backward" in dot


def test_render_draws_the_findings_of_a_capture(tmp_path: Path) -> None:
    x = torch.ones(3, requires_grad=True)
    with capture(diagnose=True) as cap:
        for _ in range(2):  # .grad summed over two calls, with no optimizer
            (x * 2).sum().backward()
    assert [f.code for f in cap.findings] == ["grad-accumulation"]
    dot = render(cap.calls[0].graph, tmp_path / "g.dot", findings=cap.findings).read_text()
    marked = outlined(dot)
    assert list(marked.values()) == [f'{WARNING} xlabel="grad-accumulation"']
