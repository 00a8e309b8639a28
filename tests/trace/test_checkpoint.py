"""Activation checkpointing with real torch: a reentrant checkpoint is one opaque node, labelled
as such in every format, and its recompute is a backward call of its own, named after the call
it ran inside (1.1), so that `--call first` is the script's own backward."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import Gradviz
from torch.utils.checkpoint import checkpoint

from graphviz_autograd import build_graph, capture, to_dot, to_json
from graphviz_autograd.model import Graph, Node
from graphviz_autograd.trace.record import Capture
from graphviz_autograd.trace.selection import Keep

BIN = Path(sys.executable).parent
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "checkpoint.py"
BLOCK_PARAMS = ["block.0.weight", "block.0.bias", "block.2.weight", "block.2.bias"]


def leaves(graph: Graph) -> set[str | None]:
    return {n.name for n in graph.nodes if n.kind == "leaf"}


def checkpoints_in(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes if n.op == "CheckpointFunctionBackward"]


def train(
    *, reentrant: bool, steps: int = 2, keep: Keep = "all"
) -> tuple[Capture, dict[int, list[torch.Tensor]]]:
    """A model whose middle block is checkpointed; ``steps`` backward calls inside capture.
    Returns the capture and each step's ``.grad`` of the block's parameters (the oracle)."""
    torch.manual_seed(0)
    embed = torch.nn.Linear(3, 4)
    block = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4))
    head = torch.nn.Linear(4, 1)
    x = torch.randn(2, 3)
    grads: dict[int, list[torch.Tensor]] = {}
    with capture(keep=keep) as cap:
        for step in range(1, steps + 1):
            hidden = embed(x)
            out = checkpoint(block, hidden, use_reentrant=reentrant)
            loss = head(out).sum()
            loss.backward()
            grads[step] = [p.grad.clone() for p in block.parameters()]  # type: ignore[union-attr]
    return cap, grads


def test_the_recompute_is_call_1_1_and_first_is_the_scripts_own_call() -> None:
    cap, grads = train(reentrant=True)
    assert [c.name for c in cap.calls] == ["1", "1.1", "2", "2.1"]
    assert (cap.count, cap.inner_count) == (2, 2)
    own, inside = cap.calls[0], cap.calls[1]
    assert (own.number, own.inner, inside.number, inside.inner) == (1, (), 1, (1,))
    assert cap.graph is cap.calls[2].graph  # the last own call
    # The script's call: one opaque node; the block's parameters are not leaves of it.
    assert leaves(own.graph) == {"embed.weight", "embed.bias", "head.weight", "head.bias"}
    (node,) = checkpoints_in(own.graph)
    attrs = dict(node.attrs)
    assert attrs["checkpoint"].startswith("reentrant")
    assert attrs["runs"] == f"block (Sequential, 4 parameters: {', '.join(BLOCK_PARAMS)})"
    assert attrs["recomputed in"] == "backward call 1.1"
    assert own.graph.notes == (
        f"out ({node.id}) is a reentrant checkpoint of block: the ops it ran and the 4 "
        "parameters they use are not drawn here",
        "To see inside: --call 1.1 draws backward call 1.1, which recomputed them; or "
        "checkpoint with use_reentrant=False",
    )
    # The recompute: the block's ops, its parameters with the .grad torch gave them.
    assert leaves(inside.graph) == {*BLOCK_PARAMS, "hidden (detached)"}
    assert {n.op for n in inside.graph.nodes} >= {"AddmmBackward0", "TanhBackward0"}
    assert inside.graph.notes[0].startswith("Backward call 1.1, made inside call 1 by a reentrant")
    for name, expected in zip(BLOCK_PARAMS, grads[1], strict=True):
        stats = next(n.grad for n in inside.graph.nodes if n.name == name)
        assert stats is not None and stats.values is not None
        assert stats.values == pytest.approx(expected.flatten().tolist(), rel=1e-6)


@pytest.mark.parametrize(
    ("keep", "names"),
    [("first", ["1"]), ("last", ["2"]), (2, ["2"]), ("1.1", ["1.1"]), ("2.1", ["2.1"])],
    ids=["first", "last", "2", "1.1", "2.1"],
)
def test_keep_counts_the_scripts_own_calls(keep: Keep, names: list[str]) -> None:
    cap, _ = train(reentrant=True, keep=keep)
    assert [c.name for c in cap.calls] == names
    assert (cap.count, cap.inner_count) == (2, 2)


def test_a_non_reentrant_checkpoint_draws_ordinary_nodes() -> None:
    cap, grads = train(reentrant=False)
    assert [c.name for c in cap.calls] == ["1", "2"]
    assert cap.inner_count == 0
    graph = cap.calls[0].graph
    assert checkpoints_in(graph) == [] and graph.notes == ()
    own = {"embed.weight", "embed.bias", "head.weight", "head.bias"}
    assert leaves(graph) == {*own, *BLOCK_PARAMS}
    for name, expected in zip(BLOCK_PARAMS, grads[1], strict=True):
        stats = next(n.grad for n in graph.nodes if n.name == name)
        assert stats is not None and stats.values == pytest.approx(expected.flatten().tolist())


def test_a_checkpointed_function_says_its_parameters_are_unknown() -> None:
    lin = torch.nn.Linear(2, 2)
    x = torch.ones(1, 2, requires_grad=True)
    with capture() as cap:
        checkpoint(lambda t: lin(t).tanh(), x, use_reentrant=True).sum().backward()
    (node,) = checkpoints_in(cap.graph)
    assert dict(node.attrs)["runs"] == "<lambda> (function)"
    assert cap.graph.notes[0].endswith("the ops it ran are not drawn here")


def test_each_of_several_checkpoints_names_its_layer_and_its_recompute() -> None:
    layers = torch.nn.ModuleList(torch.nn.Linear(2, 2) for _ in range(2))
    h = torch.ones(1, 2, requires_grad=True)
    with capture() as cap:
        for layer in layers:  # as transformers does: partial(forward, layer, **kwargs)
            h = checkpoint(functools.partial(torch.nn.Linear.forward, layer), h, use_reentrant=True)
        h.sum().backward()
    assert [c.name for c in cap.calls] == ["1", "1.1", "1.2"]
    runs = {dict(n.attrs)["runs"].split(" ")[0]: n for n in checkpoints_in(cap.graph)}
    assert sorted(runs) == ["layers.0", "layers.1"]
    # backward reaches the last layer first: its recompute is the first call made inside
    assert dict(runs["layers.1"].attrs)["recomputed in"] == "backward call 1.1"
    assert dict(runs["layers.0"].attrs)["recomputed in"] == "backward call 1.2"
    assert cap.graph.notes[0] == (
        "2 reentrant checkpoints hide the ops they ran and the 4 parameters they use: "
        f"layers.1 ({runs['layers.1'].id}, call 1.1), layers.0 ({runs['layers.0'].id}, call 1.2)"
    )
    assert cap.calls[1].graph.notes[0].startswith("Backward call 1.1, made inside call 1")
    assert leaves(cap.calls[1].graph) == {"layers.1.weight", "layers.1.bias", "checkpoint input 0"}


def test_a_graph_walked_without_capture_still_labels_the_node() -> None:
    block = torch.nn.Linear(2, 2)
    out = checkpoint(block, torch.ones(1, 2, requires_grad=True), use_reentrant=True)
    assert "CheckpointFunctionBackward (reentrant checkpoint)" in to_dot(build_graph(out))


# --- through the CLI, on samples/checkpoint.py ---------------------------------------------------


def test_every_format_labels_the_checkpoint_and_says_how_to_see_inside(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    result = gradviz("run", SAMPLE, "-f", "json", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    (node,) = [n for n in doc["nodes"] if n["op"] == "CheckpointFunctionBackward"]
    assert node["attrs"]["recomputed in"] == "backward call 1.1"
    assert any("--call 1.1" in note for note in doc["notes"])

    dot = gradviz("run", SAMPLE, "-f", "dot", "-o", "-", cwd=tmp_path).stdout
    (statement,) = [s for s in dot.splitlines() if "CheckpointFunctionBackward" in s]
    assert 'label="out = CheckpointFunctionBackward (reentrant checkpoint)\\n' in statement
    assert "recomputed in: backward call 1.1" in statement  # the tooltip
    assert "use_reentrant=False" in dot  # the note under the picture

    tree = gradviz("tree", SAMPLE, cwd=tmp_path).stdout
    assert "out = CheckpointFunctionBackward (reentrant checkpoint)" in tree
    assert "To see inside: --call 1.1 draws backward call 1.1" in tree


def test_call_all_names_files_after_the_calls_and_call_1_1_draws_inside(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    result = gradviz("run", SAMPLE, "--call", "all", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g-1.1.json", "g-1.json"]
    inside = json.loads((tmp_path / "g-1.1.json").read_text(encoding="utf-8"))
    named = {n["name"] for n in inside["nodes"] if n["kind"] == "leaf"}
    assert named == {*BLOCK_PARAMS, "hidden (detached)"}

    one = gradviz("run", SAMPLE, "--call", "1.1", "-f", "json", "-o", "-", cwd=tmp_path)
    assert json.loads(one.stdout)["nodes"] == inside["nodes"]
    first = gradviz("run", SAMPLE, "-f", "json", "-o", "-", cwd=tmp_path)  # --call first
    assert json.loads(first.stdout)["nodes"][0]["op"] == "MseLossBackward0"

    missing = gradviz("run", SAMPLE, "--call", "1.2", "-o", "g.svg", cwd=tmp_path)
    assert missing.returncode == 1
    assert "--call 1.2: no such call; the script made 1 backward call, and 1 inside" in (
        missing.stderr
    )


def test_not_reentrant_draws_the_blocks_ops_in_the_scripts_call(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    result = gradviz("run", SAMPLE, "-f", "json", "-o", "-", "--", "--no-reentrant", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert not any(n["op"] == "CheckpointFunctionBackward" for n in doc["nodes"])
    assert set(BLOCK_PARAMS) <= {n["name"] for n in doc["nodes"] if n["kind"] == "leaf"}
    assert doc["notes"] == []


def test_to_json_of_a_captured_call_keeps_the_description() -> None:
    cap, _ = train(reentrant=True, steps=1)
    doc = json.loads(to_json(cap.calls[0].graph))
    (node,) = [n for n in doc["nodes"] if n["op"] == "CheckpointFunctionBackward"]
    assert set(node["attrs"]) == {"checkpoint", "runs", "recomputed in"}
