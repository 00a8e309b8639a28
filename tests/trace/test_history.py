"""A whole run kept as figures: `capture(history=True)`, the union of its structures, each
layer's gradient flow, and the one page ``--call all -o run.html`` writes. Torch is the oracle."""

from __future__ import annotations

import base64
import json
import math
import re
from array import array
from pathlib import Path

import pytest
import torch
from conftest import Gradviz
from torch import nn

from graphviz_autograd import capture
from graphviz_autograd.errors import GradvizError
from graphviz_autograd.history import FIGURES, MAX_GRAPHS, History
from graphviz_autograd.renderers.steps import run_page, thinned
from graphviz_autograd.transform.flow import flow
from graphviz_autograd.transform.union import union

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def page_data(page: str) -> dict:
    found = re.search(r'id="gradviz-data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def floats(text: str) -> list[float]:
    return list(array("f", base64.b64decode(text)))


def train(steps: int) -> tuple[nn.Module, list[dict[str, float]], History]:
    """A 3-layer MLP trained ``steps`` steps; each step's per-layer norms as torch has them."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    expected = []
    with capture(history=True, modules=True) as cap:
        for _ in range(steps):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            linears = [(k, m) for k, m in enumerate(model) if isinstance(m, nn.Linear)]
            expected.append(
                {
                    f"model.{k}": math.hypot(*(p.grad.norm().item() for p in m.parameters()))
                    for k, m in linears
                }
            )
            optimizer.step()
    assert cap.history is not None
    return model, expected, cap.history


def test_every_call_is_kept_as_figures_on_one_graph() -> None:
    model, _, history = train(5)
    assert len(history.graphs) == 1 and len(history.steps) == 5
    graph = history.graphs[0]
    (weight,) = [k for k, n in enumerate(graph.nodes) if n.name == "model.4.weight"]
    figures = history.steps[-1].figures(weight)
    grad = model[4].weight.grad
    assert figures[FIGURES.index("norm")] == pytest.approx(grad.norm().item(), rel=1e-5)
    assert figures[FIGURES.index("min")] == pytest.approx(grad.min().item(), rel=1e-5)
    assert figures[FIGURES.index("nonfinite")] == 0


def test_the_capture_keeps_only_the_last_call_as_a_graph() -> None:
    _, _, history = train(3)
    with capture(history=True) as cap:
        w = torch.ones(2, requires_grad=True)
        for _ in range(4):
            (w * 3).sum().backward()
    assert len(cap.calls) == 1 and cap.calls[0].number == 4
    assert cap.history is not None and [s.name for s in cap.history.steps] == ["1", "2", "3", "4"]


def test_forward_tagging_stops_once_the_run_repeats_itself() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    with capture(history=True, modules=True, source=True) as cap:
        for _ in range(3):
            model(torch.ones(2, 3)).sum().backward()
    assert cap.history is not None and len(cap.history.graphs) == 1
    kept = cap.history.graphs[0]  # the first call's graph: tagged
    assert any(n.module == "model.0" for n in kept.nodes) and any(n.source for n in kept.nodes)
    last = cap.calls[-1].graph  # the third call was not: the second repeated the first
    assert not any(n.module for n in last.nodes) and not any(n.source for n in last.nodes)


def test_history_needs_every_call() -> None:
    with pytest.raises(GradvizError, match='keep="all"'), capture(history=True, keep="last"):
        pass


def test_flow_is_each_layers_gradient_norm_at_each_step_in_forward_order() -> None:
    _, expected, history = train(4)
    rows = flow(history).rows
    assert [r.name for r in rows] == ["model.0", "model.2", "model.4"]
    for row in rows:
        assert row.params == 2
        for step, norm in enumerate(row.norms):
            assert norm == pytest.approx(expected[step][row.name], rel=1e-5)
    per_param = flow(history, params=True).rows
    assert [r.name for r in per_param][:2] == ["model.0.weight", "model.0.bias"]


def test_flow_is_in_forward_order_through_a_compiled_model_too() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with capture(history=True, modules=True) as cap:  # compiled inside, as a script does
        fast = torch.compile(model, backend="aot_eager")
        for _ in range(2):
            fast(torch.randn(5, 4)).pow(2).mean().backward()
    assert cap.history is not None
    assert [r.name for r in flow(cap.history).rows] == ["model.0", "model.2"]


def test_structures_that_differ_are_one_graph_with_what_each_lacks() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with capture(history=True) as cap:
        for step in range(4):
            y = w * 3
            if step == 2:
                y = y.exp()  # one more op in the third call
            y.sum().backward()
    history = cap.history
    assert history is not None and len(history.graphs) == 2 and history.changes() == [2, 3]
    joined = union(history)
    ops = [n.op for n in joined.graph.nodes]
    assert ops.count("ExpBackward0") == 1 and ops.count("MulBackward0") == 1
    base = history.main
    assert len(joined.node_maps[base]) == len(history.graphs[base])
    assert len(joined.graph) == len(history.graphs[base]) + 1


def test_structures_past_the_limit_are_counted_not_kept() -> None:
    w = torch.tensor(1.0, requires_grad=True)
    with capture(history=True) as cap:
        for step in range(MAX_GRAPHS + 2):
            y = w
            for _ in range(step + 1):
                y = y * 2
            y.backward()
    assert cap.history is not None
    assert len(cap.history.graphs) == MAX_GRAPHS and cap.history.unkept == 2


def test_the_page_holds_every_step_and_the_flow() -> None:
    _, expected, history = train(6)
    data = page_data(run_page(history))
    steps = data["steps"]
    assert steps["names"] == ["1", "2", "3", "4", "5", "6"] and steps["every"] == 1
    width, count = len(steps["figures"]), len(data["ids"])
    nodes = floats(steps["nodes"])
    assert len(nodes) == 6 * count * width
    names = [data["info"][data["info_of"][i]].get("name") for i in range(count)]
    # the page's layer rows: torch's norms, step by step
    norms = floats(steps["flow"]["norms"])
    rows = [r["name"] for r in steps["flow"]["rows"]]
    for r, name in enumerate(rows):
        for s in range(6):
            assert norms[r * 6 + s] == pytest.approx(expected[s][name], rel=1e-5)
    assert "model.4.weight" in names


def test_long_runs_are_thinned_to_fit_the_page() -> None:
    _, _, history = train(10)
    kept = thinned(history, per_step=1000, budget=3000).steps
    assert kept[0] == 0 and kept[-1] == 9 and len(kept) < 10


def test_run_call_all_html_writes_one_page(gradviz: Gradviz, tmp_path: Path) -> None:
    out = tmp_path / "acc.html"
    done = gradviz(
        "run", str(SAMPLES / "accumulate.py"), "--call", "all", "-o", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "3 backward calls" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acc.html"]
    steps = page_data(out.read_text())["steps"]
    assert steps["names"] == ["1", "2", "3"]
    (row,) = steps["flow"]["rows"]
    assert row["name"] == "w" and floats(steps["flow"]["norms"]) == [14.0, 28.0, 42.0]
