"""``torch.compile`` runs under gradviz as under python: the script's output and exit status,
no warning of gradviz's making, no call of torch's own recorded (AOTAutograd traces the backward
with ``torch.autograd.grad`` while it compiles), and compiled code that never traced gradviz's
hooks or modes, so nothing is compiled again once capture ends.

Most tests use the ``aot_eager`` backend: it runs AOTAutograd, where the trouble was, without
inductor's C++ build (seconds instead of a minute); one slow test uses inductor with a cold
cache, as a new user has it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd import capture

# A compiled module, a compiled function, a graph break (two regions) and fullgraph=True.
SCRIPT = """\
import sys

import torch
import torch.nn as nn

backend = sys.argv[1] if len(sys.argv) > 1 else "aot_eager"
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))
w = torch.randn(8, 1, requires_grad=True)


def f(x):
    return torch.tanh(x @ w)


def broken(x):
    y = model(x)
    print("graph break")
    return y.relu() * 2


@torch.compile(backend=backend, fullgraph=True)
def decorated(x):
    return model(x).sin()


runs = {
    "module": torch.compile(model, backend=backend),
    "function": torch.compile(f, backend=backend),
    "break": torch.compile(broken, backend=backend),
    "fullgraph": decorated,
}
opt = torch.optim.SGD([*model.parameters(), w], lr=0.1)
x = torch.randn(4, 8)
for step in range(2):
    loss = sum(run(x).pow(2).mean() for run in runs.values())
    opt.zero_grad()
    loss.backward()
    opt.step()
    print("step", step, round(loss.item(), 4))
"""
REGIONS = 5  # compiled regions in one step's graph: module, function, 2 of break, fullgraph


def python_run(script: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[int, str, str]]:
    """The script, and what python made of it: (exit status, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("compiled")
    script = folder / "compiled.py"
    script.write_text(SCRIPT)
    return script, python_run(script)


def gradviz_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(("wrote ", "gradviz "))]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "compiled.py", "-o", "g.json"],
        ["run", "compiled.py", "--call", "all", "-o", "calls/g.json"],
        ["doctor", "compiled.py"],
    ],
    ids=["run", "call-all", "doctor"],
)
def test_a_compiled_script_runs_as_under_python(
    gradviz: Gradviz, compiled: tuple[Path, tuple[int, str, str]], command: list[str]
) -> None:
    script, (status, out, err) = compiled
    assert status == 0, err
    (script.parent / "calls").mkdir(exist_ok=True)
    ran = gradviz(*command, cwd=script.parent, process=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert gradviz_lines(ran.stdout) == out.splitlines()
    assert gradviz_lines(ran.stderr) == err.splitlines()  # no warning of gradviz's own
    folder = script.parent
    if command[0] == "doctor":
        assert "2 backward calls, no findings" in ran.stdout
    elif "all" in command:  # the script's two calls, none of torch's
        assert sorted(p.name for p in (folder / "calls").iterdir()) == ["g-1.json", "g-2.json"]
    else:
        graph = json.loads((folder / "g.json").read_text())
        ops = Counter(node["op"] for node in graph["nodes"])
        assert ops["CompiledFunctionBackward"] == REGIONS
        assert "torch::autograd::Error" not in ops
        opened(graph, traced=True)


def test_compiled_code_never_traces_gradviz() -> None:
    """Compiled inside a capture block, a model runs on after it without compiling again: Dynamo
    guarded on none of gradviz's hooks or modes. No call of torch's is recorded, and torch does
    not warn about global module hooks."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    before = counters["stats"]["unique_graphs"]  # other tests in this process compile too
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    x = torch.randn(2, 3)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with capture(modules=True, source=True) as cap:
            fast = torch.compile(model, backend="aot_eager")
            fast(x).sum().backward()
        compiled = counters["stats"]["unique_graphs"]
        fast(x).sum().backward()  # capture has ended: its hooks and modes are gone
    assert counters["stats"]["unique_graphs"] == compiled == before + 1
    assert cap.count == 1
    ops = [node.op for node in cap.graph.nodes]
    assert ops.count("CompiledFunctionBackward") == 1
    assert not [w for w in seen if "global hooks" in str(w.message)]
    assert torch.compile.__module__ == "torch"  # given back


@pytest.mark.slow
def test_inductor_with_a_cold_cache(gradviz: Gradviz, tmp_path: Path) -> None:
    """The default backend, compiling from nothing (a fresh TORCHINDUCTOR_CACHE_DIR)."""
    script = tmp_path / "compiled.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    status, out, err = python_run(script, "inductor", env=env)
    assert status == 0, err
    env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp_path / "cold")
    ran = gradviz(
        "run",
        "compiled.py",
        "-o",
        "g.json",
        "--",
        "inductor",
        cwd=tmp_path,
        env=env,
        process=True,
        timeout=900,
    )
    assert ran.returncode == 0, ran.stderr
    assert gradviz_lines(ran.stdout) == out.splitlines()
    assert gradviz_lines(ran.stderr) == err.splitlines()
    graph = json.loads((tmp_path / "g.json").read_text())
    assert Counter(n["op"] for n in graph["nodes"])["CompiledFunctionBackward"] == REGIONS
    opened(graph, traced=True)
    # A warm cache: inductor loads each region, whose graph was not traced this time.
    again = gradviz("run", "compiled.py", "-o", "w.json", "--", "inductor", cwd=tmp_path, env=env,
                    process=True, timeout=900)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert gradviz_lines(again.stdout) == out.splitlines()
    opened(json.loads((tmp_path / "w.json").read_text()), traced=False)


def opened(graph: dict[str, Any], *, traced: bool) -> None:
    """Every region of the script opened into inductor's backward graph; with shapes when it
    was traced in the run, with a note saying it was not when it was loaded from the cache."""
    boxes = {n.get("module", "") for n in graph["nodes"] if n["op"] == "CompiledFunctionBackward"}
    assert len(boxes) == REGIONS and all("[compiled" in box for box in boxes)
    inside = [n for n in graph["nodes"] if "[compiled" in n.get("module", "") and n["kind"] == "op"]
    assert {"mm", "sum"} <= {n["op"] for n in inside}
    shaped = [n for n in inside if n["op"] == "mm" and n["shape"]]
    assert bool(shaped) == traced
    untraced = [note for note in graph["notes"] if "not traced in this run" in note]
    assert bool(untraced) != traced


# A backward call made inside a compiled function (Dynamo breaks the graph there), under
# compiled autograd, which traces the hooks on the graph's nodes into its own graph.
COMPILED_AUTOGRAD = """\
import torch
import torch.nn as nn

torch._dynamo.config.compiled_autograd = True
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))
fast = torch.compile(model, backend="aot_eager")
x = torch.randn(4, 8)
for step in range(2):
    loss = fast(x).pow(2).mean()
    model.zero_grad()
    torch.compile(lambda: loss.backward(), backend="aot_eager")()
    print("step", step, round(model[0].weight.grad.norm().item(), 4))
"""


def test_a_backward_inside_a_compiled_function_under_compiled_autograd(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    """Recorded as the script's call, with the leaves' gradients and a note: gradviz's hooks
    and stand-ins are never traced (no Dynamo warning about them, nothing compiled again)."""
    script = tmp_path / "ca.py"
    script.write_text(COMPILED_AUTOGRAD)
    status, out, err = python_run(script)
    assert status == 0, err
    ran = gradviz("run", "ca.py", "-o", "g.json", cwd=tmp_path, process=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert gradviz_lines(ran.stdout) == out.splitlines()
    assert gradviz_lines(ran.stderr) == err.splitlines()
    graph = json.loads((tmp_path / "g.json").read_text())
    assert any("compiled autograd" in note for note in graph["notes"])
    weight = next(n for n in graph["nodes"] if n["name"] == "model.0.weight")
    first = float(out.splitlines()[0].split()[-1])  # step 0's gradient norm, printed by torch
    assert round(weight["grad"]["norm"], 4) == first
