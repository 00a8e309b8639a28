"""``gradviz flow`` on small training scripts: the table, --params, and the JSON, CSV and SVG it
writes, with torch as the oracle (each script prints the norms torch computes)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from conftest import Gradviz

SCHEMA = json.loads(
    (Path(__file__).parent.parent.parent / "docs" / "gradviz-flow.schema.json").read_text()
)

# Three linear layers, four SGD steps; the script writes each layer's (and each parameter's)
# gradient norm at each step, as torch computes them, to oracle.json.
MLP = """\
import json
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
x, y = torch.randn(16, 4), torch.randn(16, 1)
layers, params = [], []
for step in range(4):
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    layers.append([
        sum(p.grad.norm() ** 2 for p in model[k].parameters()).sqrt().item() for k in (0, 2, 4)
    ])
    params.append([p.grad.norm().item() for p in model.parameters()])
    optimizer.step()
    print("step", step)
json.dump({"layers": layers, "params": params}, open("oracle.json", "w"))
"""
LAYERS = ["model.0", "model.2", "model.4"]
PARAMS = [f"model.{k}.{p}" for k in (0, 2, 4) for p in ("weight", "bias")]


def _write(folder: Path, source: str, name: str = "train.py") -> Path:
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


def _table_rows(out: str) -> dict[str, list[str]]:
    """name -> [first, last, min, max, sparkline] of the table printed."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 6 and cells[0].startswith("model."):
            rows[cells[0]] = cells[1:]
    return rows


def test_the_table_has_the_layers_in_forward_order_with_torchs_norms(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    _write(tmp_path, MLP)
    ran = gradviz("flow", "train.py", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    oracle = json.loads((tmp_path / "oracle.json").read_text())["layers"]
    assert ran.stdout.index("step 3") < ran.stdout.index(
        "gradviz flow train.py: 4 backward calls, 3 modules"
    )
    rows = _table_rows(ran.stdout)
    assert list(rows) == LAYERS
    for k, name in enumerate(LAYERS):
        first, last, low, high, spark = rows[name]
        column = [step[k] for step in oracle]
        for shown, value in (
            (first, column[0]),
            (last, column[-1]),
            (low, min(column)),
            (high, max(column)),
        ):
            assert float(shown) == pytest.approx(value, rel=1e-3), (name, shown, value)
        assert len(spark) == 4 and set(spark) <= set("▁▂▃▄▅▆▇█")
    assert "sparkline: log scale from" in ran.stdout


def test_params_json_csv_and_svg(gradviz: Gradviz, tmp_path: Path) -> None:
    _write(tmp_path, MLP)
    ran = gradviz(
        "flow", "train.py", "--params", "-o", "f.json", "-o", "f.csv", "-o", "f.svg", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert list(_table_rows(ran.stdout)) == PARAMS
    assert "wrote f.json (6 rows, 4 calls)" in ran.stderr
    oracle = json.loads((tmp_path / "oracle.json").read_text())["params"]
    doc = json.loads((tmp_path / "f.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert (doc["format"], doc["version"], doc["steps"]) == (
        "gradviz-flow",
        1,
        ["1", "2", "3", "4"],
    )
    assert [(r["name"], r["kind"], r["params"]) for r in doc["rows"]] == [
        (name, "param", 1) for name in PARAMS
    ]
    for k, row in enumerate(doc["rows"]):
        assert row["norms"] == pytest.approx([step[k] for step in oracle], rel=1e-6)

    lines = list(csv.DictReader(io.StringIO((tmp_path / "f.csv").read_text())))
    assert len(lines) == 4 * 6
    assert [(line["step"], line["name"]) for line in lines[:7]] == [
        *(("1", name) for name in PARAMS),
        ("2", PARAMS[0]),
    ]
    assert [float(line["norm"]) for line in lines] == [
        row["norms"][s] for s in range(4) for row in doc["rows"]
    ]

    svg = ElementTree.fromstring((tmp_path / "f.svg").read_text())
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert titles == set(PARAMS)
    paths = list(svg.iter("{http://www.w3.org/2000/svg}path"))
    assert len(paths) == 6 and all(p.get("d", "").count("L") == 3 for p in paths)


def test_json_is_the_same_bytes_over_two_runs_and_dash_writes_it_to_stdout(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    _write(tmp_path, MLP)
    first = gradviz("flow", "train.py", "-o", "a.json", cwd=tmp_path)
    second = gradviz("flow", "train.py", "-o", "-", cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert second.stdout.encode() == (tmp_path / "a.json").read_bytes()
    assert (
        "step 3" in second.stderr and "step 3" in first.stdout
    )  # the script's prints out of the way


NONFINITE = """\
import torch
w = torch.ones(3, requires_grad=True)
v = torch.ones(2, requires_grad=True)
(w * 2).sum().backward()
((w * float("inf")).sum() + v.sum()).backward()
"""


def test_no_gradient_is_null_and_a_nonfinite_one_inf(gradviz: Gradviz, tmp_path: Path) -> None:
    _write(tmp_path, NONFINITE)
    ran = gradviz("flow", "train.py", "-o", "f.json", "-o", "f.csv", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    doc = json.loads((tmp_path / "f.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    norms = {row["name"]: row["norms"] for row in doc["rows"]}
    assert norms["w"][0] == pytest.approx(2 * math.sqrt(3)) and norms["w"][1] == "inf"
    assert norms["v"][0] is None and norms["v"][1] == pytest.approx(math.sqrt(2))
    assert "2,w,param,1,inf\n" in (tmp_path / "f.csv").read_text()
    assert "1,v,param,1,\n" in (tmp_path / "f.csv").read_text()
    w = next(line for line in ran.stdout.splitlines() if line.split()[:1] == ["w"])
    assert w.split() == ["w", "3.464", "Inf", "3.464", "Inf", "█!"]
    v = next(line for line in ran.stdout.splitlines() if line.split()[:1] == ["v"])
    assert v.split() == ["v", "-", "1.414", "1.414", "1.414", "·▁"]


def test_labels_are_escaped_in_the_svg(gradviz: Gradviz, tmp_path: Path) -> None:
    name = '<script>alert("x")</script>'
    _write(
        tmp_path,
        f"""\
import torch
from torch import nn
net = nn.Sequential()
net.add_module({name!r}, nn.Linear(2, 1))
net(torch.ones(1, 2)).sum().backward()
""",
    )
    ran = gradviz("flow", "train.py", "-o", "f.svg", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    text = (tmp_path / "f.svg").read_text()
    svg = ElementTree.fromstring(text)  # well-formed
    assert not [e for e in svg.iter() if e.tag.endswith("script")]
    assert f"net.{name}" in {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert "<script" not in text


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        (
            "import torch\nw = torch.ones(2, requires_grad=True)\nloss = (w * 3).sum()\n",
            1,
            "error: the script made no backward call",
        ),
        ("raise SystemExit(5)\n", 5, "error: the script made no backward call"),
    ],
    ids=["no-backward", "exits-before"],
)
def test_a_script_without_backward_is_one_line_and_an_error(
    gradviz: Gradviz, tmp_path: Path, source: str, code: int, message: str
) -> None:
    _write(tmp_path, source)
    ran = gradviz("flow", "train.py", "-o", "f.json", cwd=tmp_path)
    assert ran.returncode == code
    assert ran.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in ran.stderr and not (tmp_path / "f.json").exists()


def test_the_scripts_exit_status_after_the_flow_and_bad_outputs(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    _write(tmp_path, MLP + "raise SystemExit(7)\n")
    ran = gradviz("flow", "train.py", "-o", "f.json", cwd=tmp_path)
    assert ran.returncode == 7
    assert list(_table_rows(ran.stdout)) == LAYERS and (tmp_path / "f.json").exists()
    bad = gradviz("flow", "train.py", "-o", "f.txt", cwd=tmp_path)
    assert bad.returncode == 2 and re.search(r"cannot tell the format of 'f.txt'", bad.stderr)
