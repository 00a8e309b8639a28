"""Random autograd graphs (hypothesis): programs drawn from a vocabulary of ops are run in torch,
sometimes backward too, and every graph must walk, render (DOT through `dot`, JSON against its
schema, the tree, the HTML explorer's data, Mermaid once merged), fold and read back as the model
says.

CI runs ``FUZZ_EXAMPLES`` examples (default 40), the same ones each time; for a longer run:
``GRADVIZ_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import subprocess
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import jsonschema
import pytest
import torch
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from rich.console import Console

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.model import Graph
from graphviz_autograd.renderers.diff import to_diff_dot
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.html import to_html
from graphviz_autograd.renderers.json import from_json, to_json
from graphviz_autograd.renderers.tree import print_graph_tree
from graphviz_autograd.trace.record import capture
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.diff import compare
from graphviz_autograd.transform.fold import fold, fold_chains, fold_repeats, fold_series

try:  # Mermaid is another branch's work: checked here once it is merged
    from graphviz_autograd.renderers.mermaid import to_mermaid
except ImportError:  # pragma: no cover
    to_mermaid = None

FUZZ_EXAMPLES: Final = int(os.environ.get("GRADVIZ_FUZZ_EXAMPLES", "40"))
SCHEMA: Final = json.loads(
    (Path(__file__).parent.parent / "docs" / "gradviz-graph.schema.json").read_text()
)
VALIDATOR: Final = jsonschema.Draft202012Validator(SCHEMA)
Tensor = torch.Tensor


class Double(torch.autograd.Function):
    """A custom Function: ``DoubleBackward`` in the graph."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x * 2

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad * 2


# A Function whose class name is hostile data for every format: quotes, brackets, #, ;, HTML.
Hostile: Any = type('<script>"x"];#;{a}\nB', (Double,), {})


def _cat(x: Tensor, y: Tensor) -> list[Tensor]:
    return [torch.cat([x, y]) if x.dim() and x.shape[1:] == y.shape[1:] else torch.cat([x, x])]


def _inplace(x: Tensor, y: Tensor) -> list[Tensor]:
    if x.grad_fn is None:  # in place on a leaf that requires grad: torch refuses
        return []
    x.mul_(2)  # may change a tensor an earlier op saved: then backward raises, the walk not
    return []


def _inplace_view(x: Tensor, y: Tensor) -> list[Tensor]:
    if x.grad_fn is None or x.dim() == 0:
        return []
    x[..., :1].add_(1)  # CopySlices
    return []


OPS: Final[dict[str, Callable[[Tensor, Tensor], list[Tensor]]]] = {
    # unary
    "sin": lambda x, y: [x.sin()],
    "exp": lambda x, y: [x.exp()],
    "tanh": lambda x, y: [torch.tanh(x)],
    "relu": lambda x, y: [torch.relu(x)],
    "pow": lambda x, y: [x**2],
    "scale": lambda x, y: [x * 3.0],
    # binary, broadcasting (a mismatch raises and the step is skipped)
    "add": lambda x, y: [x + y],
    "mul": lambda x, y: [x * y],
    "sub": lambda x, y: [x - y],
    "div": lambda x, y: [x / (y * y + 1)],
    "twice": lambda x, y: [x + x],
    "const": lambda x, y: [x * torch.full_like(x, 0.5)],  # an input that needs no grad
    # views
    "reshape": lambda x, y: [x.reshape(-1)],
    "transpose": lambda x, y: [x.transpose(0, -1) if x.dim() >= 2 else x.unsqueeze(0)],
    "expand": lambda x, y: [x.unsqueeze(0).expand(2, *x.shape)],
    "slice": lambda x, y: [x[..., :1] if x.dim() else x.view(1)],
    # in place on non-leaves
    "inplace": _inplace,
    "inplace_view": _inplace_view,
    # indexing
    "select": lambda x, y: [x[0] if x.dim() else x],
    "index": lambda x, y: [x[torch.tensor([0, 0])] if x.dim() else x.view(1)[[0, 0]]],
    # cat and stack
    "cat": _cat,
    "stack": lambda x, y: [torch.stack([x, y]) if x.shape == y.shape else torch.stack([x, x])],
    # reductions
    "sum": lambda x, y: [x.sum()],
    "mean_dim": lambda x, y: [x.mean(0) if x.dim() else x.mean()],
    "amax": lambda x, y: [x.amax()],
    # custom Functions
    "custom": lambda x, y: [Double.apply(x)],
    "hostile": lambda x, y: [Hostile.apply(x)],
    # several outputs
    "unbind": lambda x, y: list(x.unbind(0)) if x.dim() else [x],
    "split": lambda x, y: list(x.split(1)) if x.dim() else [x],
    "chunk": lambda x, y: list(x.reshape(-1).chunk(2)),
}

SHAPES: Final = [(2, 3), (3,), (1, 3), (2, 1), ()]

Program = tuple[list[tuple[int, ...]], list[tuple[str, int, int]], list[int]]
"""Leaf shapes; steps (op, first input, second input); roots: positions in the pool."""

programs = st.tuples(
    st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3),
    st.lists(
        st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 63), st.integers(0, 63)),
        min_size=1,
        max_size=14,
    ),
    st.lists(st.integers(0, 63), min_size=1, max_size=3),
)


def execute(program: Program) -> tuple[list[Tensor], list[Tensor]]:
    """Run ``program``: the roots it picks and every tensor it made (leaves first)."""
    shapes, steps, picks = program
    generator = torch.Generator().manual_seed(0)
    pool = [torch.randn(shape, generator=generator, requires_grad=True) for shape in shapes]
    for op, i, j in steps:
        x, y = pool[i % len(pool)], pool[j % len(pool)]
        try:
            made = OPS[op](x, y)
        except RuntimeError:  # shapes that do not broadcast, in place on a view of a leaf
            continue
        event(f"op {op}")
        pool.extend(made)
    with_graph = [t for t in pool if _has_graph(t)] or pool[:1]
    roots = [with_graph[k % len(with_graph)] for k in picks]
    return roots, pool


def _has_graph(tensor: Tensor) -> bool:
    """Whether ``tensor`` has a grad_fn; False when torch refuses to say (a view out of
    ``split`` whose base was then changed in place)."""
    try:
        return tensor.grad_fn is not None
    except RuntimeError:
        event("grad_fn refused")
        return False


def bare_counts(roots: list[Tensor]) -> tuple[int, int, int]:
    """Autograd nodes, edges and empty slots (inputs that need no grad) reachable from
    ``roots``: a plain breadth-first walk of ``next_functions``, the oracle of the walk."""
    seeds = [r.grad_fn if r.grad_fn is not None else r.view_as(r).grad_fn.next_functions[0][0]
             for r in roots]  # fmt: skip
    seen = dict.fromkeys(seeds)
    queue = list(seen)
    edges = empty = 0
    for fn in queue:
        for child, _ in fn.next_functions:
            if child is None:
                empty += 1
                continue
            edges += 1
            if child not in seen:
                seen[child] = None
                queue.append(child)
    return len(queue), edges, empty


def record(
    program: Program, mode: str, flags: dict[str, bool]
) -> tuple[Graph, tuple[int, ...], list[weakref.ref[Tensor]]]:
    """The graph of ``program`` walked as ``mode`` says, the bare counts, and a weak reference
    to every tensor the program made (all dead once this returns, if the graph keeps none)."""
    roots, pool = execute(program)
    alive = [weakref.ref(t) for t in pool]
    if mode == "walk":
        return build_graph(roots, **flags), bare_counts(roots), alive
    total = sum(r.float().sum() for r in roots)
    assert isinstance(total, Tensor)
    counts = bare_counts([total] if mode == "capture" else roots)
    with capture(**flags) if mode == "capture" else _nothing() as cap:
        try:
            total.backward()
        except RuntimeError:  # a saved tensor was modified in place
            event("backward raised")
    graph = cap.calls[0].graph if cap is not None else build_graph(roots, **flags)
    return graph, counts, alive


def left_without_gradviz(program: Program) -> int:
    """How many of ``program``'s tensors stay alive after a backward that raised, with no
    gradviz involved: torch keeps some (a leaf, seen with chunk and an in-place op)."""
    roots, pool = execute(program)
    alive = [weakref.ref(t) for t in pool]
    total = sum(r.float().sum() for r in roots)
    assert isinstance(total, Tensor)
    with contextlib.suppress(RuntimeError):
        total.backward()
    del roots, pool, total
    gc.collect()
    return sum(ref() is not None for ref in alive)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_DATA: Final = '<script type="application/json" id="gradviz-data">'


def dot_accepts(source: str) -> None:
    done = subprocess.run(["dot", "-Tcanon"], input=source, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, ""), source


@pytest.mark.dot
@pytest.mark.slow
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize="GRADVIZ_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
@given(
    program=programs,
    mode=st.sampled_from(["walk", "after backward", "capture"]),
    show_saved=st.booleans(),
    show_attrs=st.booleans(),
    show_inputs=st.booleans(),
)
def test_random_graphs(
    program: Program, mode: str, show_saved: bool, show_attrs: bool, show_inputs: bool
) -> None:
    flags = {"show_saved": show_saved, "show_attrs": show_attrs, "show_inputs": show_inputs}
    graph, (fns, edges, empty), alive = record(program, mode, flags)
    gc.collect()
    left = sum(ref() is not None for ref in alive)
    if left:  # the graph keeps no tensor: whatever is alive, torch keeps without gradviz too
        assert mode != "walk" and left <= left_without_gradviz(program)
        event("tensors torch keeps after a failed backward")
    event(f"mode {mode}")
    event(f"nodes {'<10' if len(graph) < 10 else '10-29' if len(graph) < 30 else '30+'}")

    # counts: the walk meets what a bare traversal meets
    kinds = [n.kind for n in graph.nodes]
    data = [e for e in graph.edges if e.kind == "data"]
    saved = [e for e in graph.edges if e.kind == "saved"]
    assert len(kinds) - kinds.count("input") - kinds.count("saved") == fns
    assert kinds.count("input") == (empty if show_inputs else 0)
    assert len(data) == edges + (empty if show_inputs else 0)
    assert kinds.count("saved") == len(saved) and (show_saved or not saved)
    ids = [n.id for n in graph.nodes]
    assert len(set(ids)) == len(ids) and set(graph.roots) <= set(ids)
    assert {e.src for e in graph.edges} | {e.dst for e in graph.edges} <= set(ids)

    # every renderer accepts it
    dot = to_dot(graph)
    dot_accepts(dot)
    text = to_json(graph)
    VALIDATOR.validate(json.loads(text))
    assert from_json(text) == graph
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_graph_tree(graph, console=console)
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(f" {i}" in printed for i in ids if graph.node(i).kind != "saved")
    page = to_html(graph, folded=fold(graph))
    start = page.index(_DATA) + len(_DATA)
    block = page[start : page.index("</script>", start)]
    assert "<" not in block  # names are data: the hostile class name is escaped
    data = json.loads(block)
    assert data["ids"] == ids and sum(data["folded_count"]) == len(graph)
    if to_mermaid is not None:
        chart = to_mermaid(graph, legend=False)
        arrows = [line for line in chart.splitlines() if " --> " in line or " -.-> " in line]
        assert len(arrows) == graph.edge_count
        assert "<" not in chart.replace("<br>", "")  # names are written as entities
        assert to_mermaid(graph, legend=False) == chart
        event("mermaid checked")
    same = compare(graph, from_json(text))
    assert same.same_structure and not same.changed and len(same.matched) == len(graph)
    dot_accepts(to_diff_dot(same))

    # folding keeps the count sums, the roots, and edges between kept nodes
    for folded in (
        fold(graph, max_nodes=1),
        fold(graph, max_nodes=max(1, len(graph) // 2)),
        fold_chains(graph),
        fold_repeats(graph),
        fold_series(graph),
    ):
        kept = {n.id for n in folded.nodes}
        assert sum(n.count for n in folded.nodes) == len(graph)
        assert set(graph.roots) <= kept
        assert all(e.src in kept and e.dst in kept for e in folded.edges)
    dot_accepts(to_dot(fold(graph, max_nodes=1)))

    # deterministic: the same program gives the same bytes
    again, _, _ = record(program, mode, flags)
    assert to_dot(again) == dot and to_json(again) == text


def test_schema_accepts_the_golden_files() -> None:
    golden = Path(__file__).parent / "golden"
    for path in sorted(golden.glob("*.json")):
        VALIDATOR.validate(json.loads(path.read_text()))
    wrong = json.loads((golden / "extras.json").read_text())
    wrong["nodes"][0]["kind"] = "tensor"
    assert not VALIDATOR.is_valid(wrong)


def test_a_view_torch_refuses_is_one_gradviz_error() -> None:
    """Found by the fuzz test: torch raises on ``grad_fn`` of a ``split`` output whose base
    was changed in place; the walk says so as a `GradvizError`, not torch's RuntimeError."""
    x = torch.randn(2, 3, requires_grad=True)
    y = x + x
    first, _ = y.chunk(2)
    y.mul_(2)
    with pytest.raises(GradvizError, match="torch gives no graph for this tensor: Output 0 of"):
        build_graph(first)
    with capture() as cap:  # such a tensor among the caller's variables names nothing
        y.sum().backward()
    assert [n.op for n in cap.graph.nodes] == ["SumBackward0", "MulBackward0", "AddBackward0",
                                                "AccumulateGrad"]  # fmt: skip
