"""`gradviz diff`: graphs matched by structure, through the installed command on real scripts,
and `compare` on graphs read back from JSON."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd.renderers.diff import DIFF_COLOURS
from graphviz_autograd.renderers.json import from_json, to_json
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.diff import compare

SAMPLES = Path(__file__).parents[2] / "samples"
GOLDEN = Path(__file__).parents[1] / "golden"

# An MLP; `--deeper` adds a Linear(8, 8) and a ReLU in the middle (model.2 and model.3).
MLP = """\
import sys
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
layers = [nn.Linear(4, 8), nn.ReLU()]
if "--deeper" in sys.argv:
    layers += [nn.Linear(8, 8), nn.ReLU()]
layers += [nn.Linear(8, 1)]
model = nn.Sequential(*layers)
x = torch.randn(5, 4)
target = torch.randn(5, 1)
pred = model(x)
loss = F.mse_loss(pred, target)
loss.backward()
"""

# Three calls of one graph: the scale flips the gradient's signs in call 2, makes it NaN in 3.
SCALES = """\
import torch
w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
for scale in ([1.0, 1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, float("nan"), 1.0]):
    w.grad = None
    loss = (w * torch.tensor(scale)).sin().sum()
    loss.backward()
"""


def by_name(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in nodes if n.get("name")}


@pytest.mark.dot
def test_accumulate_calls_1_and_3_same_structure_gradient_tripled(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    result = gradviz(
        "diff", SAMPLES / "accumulate.py", "--calls", "1", "3", "-o", "d.json", "-o", "d.svg",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "same structure (5 nodes, 4 edges); 1 node changed" in result.stdout
    assert "grad -14 → -42 (×3)" in result.stdout
    doc = json.loads((tmp_path / "d.json").read_text())
    assert (doc["format"], doc["version"]) == ("gradviz-diff", 1)
    assert (doc["added"], doc["removed"], doc["same_structure"]) == ([], [], True)
    # torch is the oracle: d(loss)/dw of the sample, accumulated once and three times
    w = torch.tensor(0.5, requires_grad=True)
    x, target = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])
    (g,) = torch.autograd.grad(((w * x - target) ** 2).mean(), [w])
    [change] = doc["changed"]
    assert (change["name"], change["op"], change["fields"]) == ("w", "AccumulateGrad", ["grad"])
    assert change["a"]["grad"]["values"] == [pytest.approx(g.item())]
    assert change["b"]["grad"]["values"] == [pytest.approx(3 * g.item())]
    assert change["grad"] == {
        "ratio": pytest.approx(3.0), "sign_flips": 0, "nan_appeared": False,
        "inf_appeared": False,
    }  # fmt: skip
    svg = ET.parse(tmp_path / "d.svg").getroot()
    fills = {p.get("fill") for p in svg.iter("{http://www.w3.org/2000/svg}path")}
    assert DIFF_COLOURS["grad"][0] in fills and DIFF_COLOURS["added"][0] not in fills


def test_layer_added_between_two_json_files(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "mlp.py").write_text(MLP)
    assert gradviz("run", "mlp.py", "-o", "a.json", cwd=tmp_path).returncode == 0
    assert gradviz("run", "mlp.py", "-o", "b.json", "--", "--deeper", cwd=tmp_path).returncode == 0
    result = gradviz("diff", "a.json", "b.json", "-o", "d.json", "-o", "d.dot", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "structure differs: 5 nodes added, 0 removed" in result.stdout
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["same_structure"] is False
    added = doc["added"]
    # the last layer is model.4 now; the new middle layer took the name model.2
    assert set(by_name(added)) == {"pred", "model.4.weight", "model.4.bias"}
    assert sorted(n["op"] for n in added) == sorted(
        ["AddmmBackward0", "AccumulateGrad", "AccumulateGrad", "TBackward0", "ReluBackward0"]
    )
    assert doc["removed"] == []
    changed = {c["name"]: c for c in doc["changed"]}
    assert changed["model.2.weight"]["a"]["shape"] == [1, 8]
    assert changed["model.2.weight"]["b"]["shape"] == [8, 8]
    assert "shape" in changed["model.2.weight"]["fields"]
    # model.0 is the same layer with the same weights (seed 0): only its gradient changed
    assert changed["model.0.weight"]["fields"] == ["grad"]
    assert doc["a"] == {"nodes": 10, "edges": 9} and doc["b"] == {"nodes": 15, "edges": 14}
    dot = (tmp_path / "d.dot").read_text()
    assert dot.count(DIFF_COLOURS["added"][0]) == 5 + 1  # five nodes, and the legend
    assert (
        subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True).returncode == 0
    )


def test_sign_flips_and_nan_appearing(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "scales.py").write_text(SCALES)
    flips = gradviz("diff", "scales.py", "--calls", "1", "2", "-o", "-", cwd=tmp_path)
    assert flips.returncode == 0, flips.stderr
    doc = json.loads(flips.stdout)
    leaf = next(c for c in doc["changed"] if c["op"] == "AccumulateGrad")
    assert leaf["grad"]["sign_flips"] == 2  # torch: d sin(w*s)/dw = s cos(w*s), cos is even
    nan = gradviz("diff", "scales.py", "--calls", "first", "last", "-o", "-", cwd=tmp_path)
    doc = json.loads(nan.stdout)
    appeared = {c["op"] for c in doc["changed"] if c["grad"]["nan_appeared"]}
    assert appeared == {"AccumulateGrad", "MulBackward0"}
    assert "NaN appeared (1)" in nan.stderr  # the report goes to stderr when JSON is on stdout


def test_two_scripts_and_user_errors(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "mlp.py").write_text(MLP)
    (tmp_path / "deeper.py").write_text(MLP.replace('"--deeper" in sys.argv', "True"))
    result = gradviz("diff", "mlp.py", "deeper.py", cwd=tmp_path)
    assert result.returncode == 4
    assert "A = mlp.py call 1: 10 nodes, 9 edges" in result.stdout
    for args, message in [
        (["mlp.py"], "error: one script: say which two of its backward calls"),
        (["mlp.py", "--calls", "1", "2"], "error: mlp.py: no backward call 2; it made 1"),
        (["missing.json", "mlp.py"], "error: cannot read missing.json"),
        (["mlp.py", "mlp.py", "-o", "d.txt"], "error: cannot tell the format of 'd.txt'"),
        # Formats gradviz writes elsewhere, but a comparison is not: refused before any work.
        (["mlp.py", "mlp.py", "-o", "d.mmd"], "error: cannot tell the format of 'd.mmd'"),
    ]:
        failed = gradviz("diff", *args, cwd=tmp_path)
        assert failed.returncode == 1, args
        assert failed.stderr.strip().splitlines()[-1].startswith(message), failed.stderr
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    failed = gradviz("diff", "other.json", "other.json", "third.json", cwd=tmp_path)
    assert failed.stderr.startswith("error: unexpected argument 'third.json'")
    failed = gradviz("diff", "other.json", "other.json", "--calls", "1", "2", cwd=tmp_path)
    assert failed.stderr.startswith("error: --calls picks backward calls of scripts")
    failed = gradviz("diff", "other.json", "other.json", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr == (
        'error: other.json: not a gradviz graph (JSON without "format": "gradviz-graph")\n'
    )


@pytest.mark.parametrize("name", ["after_backward.json", "extras.json"])
def test_json_reads_back_to_the_same_graph(name: str) -> None:
    text = (GOLDEN / name).read_text()
    graph = from_json(text)
    assert to_json(graph) == text
    same = compare(graph, graph)
    assert same.same_structure and not same.changed and len(same.matched) == len(graph)


def test_compare_matches_by_position_not_id() -> None:
    w = torch.ones(3, requires_grad=True)
    a = build_graph((w.exp() * w.sin()).sum(), params={"w": w})
    b = build_graph((w.sin() * w.exp()).sum(), params={"w": w})  # the same ops, other slots
    assert from_json(to_json(a)) == a
    diff = compare(a, b)
    # slot 0 of the Mul is ExpBackward0 in A and SinBackward0 in B: found by op, not by id
    assert diff.same_structure is False
    assert {n.op for n in diff.added} == {n.op for n in diff.removed} == set()
    assert len(diff.edges_added) == len(diff.edges_removed) == 2


def test_a_node_named_like_a_dot_keyword_is_quoted_in_the_diff_picture() -> None:
    from graphviz_autograd.model import Edge, Graph, Node, TensorStats
    from graphviz_autograd.renderers.diff import to_diff_dot

    def graph(norm: float) -> Graph:
        grad = TensorStats((1,), norm, norm, norm, norm, 0, 0, (norm,))
        nodes = (Node("node", "op", op="MulBackward0", grad=grad), Node("x", "leaf", name="x"))
        return Graph(nodes, (Edge("x", "node", 0),), ("node",))

    dot = to_diff_dot(compare(graph(1.0), graph(2.0)))
    # Bare, `node [...]` would be a default for every node after it, not this node.
    assert '\n  "node" [fillcolor=' in dot and "\n  node [fillcolor=" not in dot
