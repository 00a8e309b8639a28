"""`gradviz doctor` through the CLI on every pitfall sample (samples/pitfalls/), and
``capture(diagnose=True)`` in process.

Each sample shows one finding; the test checks its code, the names involved and the lines
(found by their text in the sample, so editing a sample cannot silently move them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import Gradviz, Ran
from torch import nn

from graphviz_autograd import capture
from graphviz_autograd.doctor import CODES

ROOT = Path(__file__).resolve().parents[2]
PITFALLS = ROOT / "samples" / "pitfalls"


def doctor(gradviz: Gradviz, *args: str | Path, cwd: Path = ROOT) -> Ran:
    return gradviz("doctor", *args, cwd=cwd)


def report(gradviz: Gradviz, sample: str) -> tuple[dict[str, Any], Ran]:
    done = doctor(gradviz, PITFALLS / f"{sample}.py", "--format", "json", "-o", "-")
    return json.loads(done.stdout), done


def line_of(sample: str, text: str) -> int:
    lines = (PITFALLS / f"{sample}.py").read_text().splitlines()
    (number,) = [i for i, line in enumerate(lines, 1) if text in line]
    return number


# sample -> (code, params, text on the finding's line, texts on its nodes' lines)
CASES: dict[str, tuple[str, list[str], str | None, list[str]]] = {
    "unused_param": (
        "unused-param",
        ["model.spare.weight", "model.spare.bias"],
        "loss.backward()",
        [],
    ),
    "detached": ("detached", ["encoder.weight", "encoder.bias"], ".detach()  # the cut", []),
    "frozen": ("frozen-param", ["model.0.weight", "model.0.bias"], None, []),
    "no_zero_grad": (
        "grad-accumulation",
        ["model.weight", "model.bias"],
        "zero_grad() is missing",
        [],
    ),
    "zero_grad_before_step": ("zeroed-before-step", [], "too late: it clears", []),
    "head_not_in_optimizer": (
        "not-in-optimizer",
        ["model.head.weight", "model.head.bias"],
        "model.head = nn.Linear(16, 3)",
        [],
    ),
    "scaler_skips": ("scaler-skipped", [], None, []),
    "moe_idle": (
        "idle-param",
        [f"model.experts.{i}.{p}" for i in range(4) for p in ("weight", "bias")],
        None,
        [],
    ),
    "scaler_stalled": ("scaler-stalled", [], None, []),
    "backward_twice": ("backward-twice", [], "fails: the graph was freed", ["y = x.exp()"]),
    "inplace": ("inplace-modified", [], "loss.backward()", ["y = x.exp()  #", "y += 1  #"]),
    "nan_forward": ("nonfinite-forward", [], "h = torch.log(z)", []),
    "nan_grad": ("nonfinite-grad", ["a"], "squared.sqrt()", ["squared.sqrt()", "** 2).sum()"]),
    "no_graph": ("no-graph", [], "with torch.no_grad():", ["pred = model(x)"]),
    "non_scalar": ("non-scalar-backward", [], "y.backward()", []),
    "non_leaf_grad": ("non-leaf-grad", [], 'print("h.grad ="', []),
    "vanishing": ("vanishing", ["model.0", "model.24"], None, []),
    "exploding": ("exploding", ["model.0", "model.16"], None, []),
}


def test_every_code_has_a_sample() -> None:
    # ddp-unused-param needs two processes: tests/trace/test_distributed.py runs its case
    assert {case[0] for case in CASES.values()} | {"ddp-unused-param"} == set(CODES)


@pytest.mark.parametrize("sample", list(CASES))
def test_each_sample_shows_its_finding_with_names_and_lines(gradviz: Gradviz, sample: str) -> None:
    code, params, line_text, node_texts = CASES[sample]
    data, done = report(gradviz, sample)
    assert data["format"] == "gradviz-doctor" and data["version"] == 1
    assert data["script"].endswith(f"{sample}.py") and data["calls"] >= 1
    (finding,) = [f for f in data["findings"] if f["code"] == code]
    assert finding["severity"] == CODES[code]
    assert finding["params"] == params
    assert finding["message"] and finding["hint"]
    if line_text is None:
        assert finding["source"] is None
    else:
        assert finding["source"]["line"] == line_of(sample, line_text)
        assert finding["source"]["file"].endswith(f"{sample}.py")
        assert line_text in finding["source"]["code"]
    lines = {n["source"]["line"] for n in finding["nodes"] if n["source"]}
    assert {line_of(sample, text) for text in node_texts} <= lines
    # info alone exits 0; a warning or an error 4, also when it explains the script's failure
    assert done.returncode == (0 if CODES[code] == "info" else 4), done.stderr
    explains = code in ("backward-twice", "inplace-modified", "no-graph", "non-scalar-backward")
    assert ("Traceback (most recent call last)" in done.stderr) == explains
    assert "graphviz_autograd" not in done.stderr


def test_sample_findings_are_only_the_expected_ones(gradviz: Gradviz) -> None:
    data, _ = report(gradviz, "inplace")
    assert [f["code"] for f in data["findings"]] == ["inplace-modified"]
    (finding,) = data["findings"]
    assert "version 1, expected 0" in finding["message"]
    assert [n["op"] for n in finding["nodes"]] == ["ExpBackward0", "add_"]
    # the saving op is a node of the recorded call's graph; the in-place call is none
    assert finding["nodes"][0]["id"] is not None and finding["nodes"][1]["id"] is None


def test_in_process_runs_in_a_row_leave_the_next_one_alone(gradviz: Gradviz) -> None:
    # An optimizer step imports torch._dynamo on first use: what a run imported from torch or
    # gradviz stays loaded, or the next run imports it again and torch breaks (no backward call).
    first, _ = report(gradviz, "no_zero_grad")
    assert first["calls"] == 3
    assert "torch._dynamo" in sys.modules and "graphviz_autograd.doctor.session" in sys.modules
    second, done = report(gradviz, "no_graph")
    assert second["calls"] == 1, done.stderr
    assert [f["code"] for f in second["findings"]][0] == "no-graph"
    assert done.returncode == 4 and "TORCH_LIBRARY" not in done.stderr


def test_text_report_names_the_finding_its_line_and_fix(gradviz: Gradviz) -> None:
    done = doctor(gradviz, PITFALLS / "backward_twice.py")
    assert done.returncode == 4
    out = done.stdout
    assert "backward-twice" in out and "call 1 (line 14)" in out
    assert f"backward_twice.py:{line_of('backward_twice', 'fails: the graph')}" in out
    assert "retain_graph=True" in out
    assert "RuntimeError: Trying to backward through the graph a second time" in done.stderr


@pytest.mark.slow
def test_healthy_training_gets_no_warning(gradviz: Gradviz, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = doctor(gradviz, ROOT / "benchmarks" / "mlp_train.py", "-o", out)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["calls"] == 300 and data["findings"] == []


def test_names_survive_a_model_let_go_of_at_the_end(gradviz: Gradviz, tmp_path: Path) -> None:
    """``del model`` before the script ends (as a distributed job does before
    destroy_process_group) leaves the findings their parameter names."""
    script = tmp_path / "let_go.py"
    script.write_text(
        (PITFALLS / "unused_param.py").read_text() + "\ndel model\nimport gc\ngc.collect()\n"
    )
    done = doctor(gradviz, script, "--format", "json", "-o", "-")
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["params"] == ["model.spare.weight", "model.spare.bias"]


def test_unexplained_failure_is_exit_3_and_usage_errors_exit_2(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script = tmp_path / "boom.py"
    script.write_text("import torch\nraise ValueError('boom')\n")
    done = doctor(gradviz, script)
    assert done.returncode == 3 and "ValueError: boom" in done.stderr
    assert doctor(gradviz, script, "-o", "-").returncode == 2
    assert doctor(gradviz, tmp_path / "missing.py").returncode == 1
    script.write_text("import torch\nraise KeyboardInterrupt\n")
    done = doctor(gradviz, script)
    assert done.returncode == 130 and "interrupted" in done.stderr


# -- in process ------------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.spare = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_capture_diagnose_names_unused_parameters_from_the_callers_variables() -> None:
    net = Net()
    with capture(diagnose=True) as cap:
        net(torch.ones(2, 3)).sum().backward()
    assert [(f.code, f.params) for f in cap.findings] == [
        ("unused-param", ("net.spare.weight", "net.spare.bias"))
    ]
    # the gradients are torch's own
    assert net.body.weight.grad is not None
    assert torch.equal(net.body.weight.grad, torch.ones(2, 3).sum(0).expand(4, 3))


def test_capture_diagnose_finds_where_a_nan_is_born_and_stays_quiet_when_healthy() -> None:
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    with capture(diagnose=True) as cap:
        torch.sqrt(w * 2).sum().backward()
    (finding,) = cap.findings
    assert finding.code == "nonfinite-forward" and "sqrt" in finding.message
    assert finding.source is not None and "torch.sqrt(w * 2)" in finding.source.code
    w.grad = None
    with capture(diagnose=True) as cap:
        (w * 2).exp().sum().backward()
    assert cap.findings == []


def test_capture_diagnose_explains_a_failure_it_lets_through() -> None:
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        with capture(diagnose=True) as cap:
            (x * 2).backward()
    assert [f.code for f in cap.findings] == ["non-scalar-backward"]
    assert "(3,)" in cap.findings[0].message


def test_a_healthy_transformer_training_gets_no_finding() -> None:
    # nn.TransformerEncoder deep-copies its template layer (copy reads .data) and never runs
    # it; a causal mask holds -inf on purpose; two losses per step add into .grad by design.
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    head = nn.Linear(8, 1)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=1e-3)
    x = torch.randn(4, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    with capture(diagnose=True, keep="first") as cap:
        for _ in range(3):
            optimizer.zero_grad()
            out = head(encoder(x, mask=mask, is_causal=True))
            out.pow(2).mean().backward(retain_graph=True)
            out.abs().mean().backward()
            optimizer.step()
    assert cap.count == 6
    assert cap.findings == []


def test_accumulation_over_micro_batches_is_not_flagged_but_across_steps_is() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 3)
    with capture(diagnose=True, keep="first") as cap:
        for i in range(4):  # two micro-batches per step, zeroed after each step
            model(x[2 * i : 2 * i + 2]).sum().backward()
            if i % 2 == 1:
                optimizer.step()
                optimizer.zero_grad()
    assert cap.findings == []
    with capture(diagnose=True, keep="first") as cap:
        for i in range(3):  # never zeroed: each step uses the sum so far
            model(x[i : i + 1]).sum().backward()
            optimizer.step()
    (finding,) = cap.findings
    assert finding.code == "grad-accumulation"
    assert finding.params == ("model.weight", "model.bias")
    assert "calls 1-3" in finding.message


def test_capture_diagnose_names_the_freed_node_by_its_id_in_the_failed_calls_graph() -> None:
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="second time"):
        with capture(diagnose=True) as cap:
            loss = x.exp().sum()
            loss.backward()
            loss.backward()
    (finding,) = cap.findings
    assert finding.code == "backward-twice" and "call 1" in finding.message
    (node,) = finding.nodes
    assert node.source is not None and "x.exp()" in node.source.code
    assert node.id is not None and cap.calls[1].graph.node(node.id).op == "ExpBackward0"


class Sine(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30.0 * x)


def test_the_slope_is_judged_on_gradients_a_grad_scaler_has_not_scaled() -> None:
    """Under a GradScaler the gradients are the loss scale times their size: the vanishing or
    exploding finding gives the model's own norms, as without the scaler."""

    def exploding(scaler: torch.amp.GradScaler | None) -> str:
        torch.manual_seed(0)  # samples/pitfalls/exploding.py's model: sin(30x) between layers
        layers: list[nn.Module] = []
        for _ in range(8):
            layers += [nn.Linear(16, 16), Sine()]
        model = nn.Sequential(*layers, nn.Linear(16, 1))
        with capture(diagnose=True) as cap:
            loss = model(torch.randn(32, 16)).pow(2).mean()
            (loss if scaler is None else scaler.scale(loss)).backward()
        (finding,) = [f for f in cap.findings if f.code == "exploding"]
        return finding.message

    plain = exploding(None)
    assert exploding(torch.amp.GradScaler("cpu", init_scale=2.0**10)) == plain
