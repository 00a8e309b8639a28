"""The public Python API: exported names, render() to files and inline, tensors or a Graph."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from rich.console import Console

import graphviz_autograd
from graphviz_autograd import (
    Edge,
    GradvizError,
    Graph,
    Node,
    Rendering,
    build_graph,
    print_tree,
    render,
    to_dot,
    to_json,
    to_svg,
)

EXPORTED = {
    "BackwardCall",
    "Capture",
    "Edge",
    "Explorer",
    "GradvizError",
    "Graph",
    "GraphvizNotFoundError",
    "LayoutTimeoutError",
    "Node",
    "NoGraphError",
    "Rendering",
    "TensorStats",
    "__version__",
    "build_graph",
    "capture",
    "explore",
    "flow",
    "make_dot",
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_mermaid",
    "to_svg",
}


def test_exported_members() -> None:
    assert set(graphviz_autograd.__all__) == EXPORTED
    assert len(graphviz_autograd.__all__) == len(EXPORTED)
    for name in EXPORTED:
        assert getattr(graphviz_autograd, name) is not None, name
    for name in EXPORTED - {"__version__"}:
        obj = getattr(graphviz_autograd, name)
        assert obj.__module__.startswith("graphviz_autograd."), name


def program() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    loss = ((w * torch.tensor([3.0, 4.0])).sum() + b).pow(2)
    loss.backward()
    return loss, {"w": w, "b": b}


@pytest.mark.parametrize(
    ("ext", "check"),
    [
        (".dot", lambda data: data.startswith(b"digraph gradviz {")),
        (".gv", lambda data: data.startswith(b"digraph gradviz {")),
        (".json", lambda data: json.loads(data)["format"] == "gradviz-graph"),
        pytest.param(".svg", lambda data: b"<svg" in data[:500], marks=pytest.mark.dot),
        pytest.param(".png", lambda data: data.startswith(b"\x89PNG"), marks=pytest.mark.dot),
        pytest.param(".pdf", lambda data: data.startswith(b"%PDF-"), marks=pytest.mark.dot),
        pytest.param(".SVG", lambda data: b"<svg" in data[:500], marks=pytest.mark.dot),
    ],
    ids=["dot", "gv", "json", "svg", "png", "pdf", "upper-case-svg"],
)
def test_render_writes_the_format_of_the_extension(tmp_path: Path, ext: str, check: object) -> None:
    loss, params = program()
    target = tmp_path / f"g{ext}"
    result = render(loss, target, params=params)
    assert result == target
    data = target.read_bytes()
    assert check(data)  # type: ignore[operator]
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp files left


def test_render_text_formats_match_to_dot_and_to_json(tmp_path: Path) -> None:
    loss, params = program()
    render(loss, tmp_path / "g.dot", params=params, rankdir="LR")
    render(loss, tmp_path / "g.json", params=params)
    assert (tmp_path / "g.dot").read_text() == to_dot(loss, params=params, rankdir="LR")
    assert (tmp_path / "g.json").read_text() == to_json(loss, params=params)
    assert "rankdir=LR" in (tmp_path / "g.dot").read_text()
    assert '"name": "w"' in (tmp_path / "g.json").read_text()


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    loss, _ = program()
    render(loss, tmp_path / "graph.txt", format="json")
    assert json.loads((tmp_path / "graph.txt").read_text())["version"] == 1


@pytest.mark.parametrize("name", ["g.txt", "g", "g.jpeg"], ids=["txt", "none", "jpeg"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    loss, _ = program()
    with pytest.raises(GradvizError, match="cannot tell the format"):
        render(loss, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_unknown_format(tmp_path: Path) -> None:
    loss, _ = program()
    with pytest.raises(GradvizError, match="unknown format 'gif'"):
        render(loss, tmp_path / "g.gif", format="gif")


def test_unknown_option() -> None:
    loss, _ = program()
    with pytest.raises(TypeError, match="unknown option.*colour"):
        render(loss, colour="red")


def test_render_without_path_returns_a_rendering() -> None:
    loss, params = program()
    rendering = render(loss, params=params)
    assert isinstance(rendering, Rendering)
    graph = build_graph(loss, params=params)
    assert rendering.graph == graph
    assert rendering.dot == to_dot(graph)
    assert (len(graph.nodes), len(graph.edges)) == (6, 5)
    # A plain REPL shows the repr: it says how to save the picture.
    assert repr(rendering) == (
        "<gradviz Rendering: 6 nodes, 5 edges; "
        '.save("graph.svg") writes it (.png .pdf .dot .json .html too), Jupyter shows it>'
    )


@pytest.mark.dot
def test_rendering_displays_svg_in_jupyter(tmp_path: Path) -> None:
    loss, params = program()
    rendering = render(loss, params=params)
    assert isinstance(rendering, Rendering)
    bundle = rendering._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert "</svg>" in bundle["image/svg+xml"]
    assert bundle["text/plain"] == repr(rendering)
    saved = rendering.save(tmp_path / "g.svg")
    assert saved.read_text() == bundle["image/svg+xml"]


def test_rendering_without_dot_still_shows_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loss, _ = program()
    rendering = render(loss)
    assert isinstance(rendering, Rendering)
    monkeypatch.setenv("PATH", str(tmp_path))
    bundle = rendering._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "Graphviz `dot` was not found" in bundle["text/plain"]


def test_render_format_without_path_is_an_error() -> None:
    loss, _ = program()
    with pytest.raises(GradvizError, match="format= needs a path"):
        render(loss, format="svg")


@pytest.mark.parametrize(
    "option",
    [{"params": {}}, {"show_saved": True}, {"show_attrs": False}],
    ids=["params", "show_saved", "show_attrs"],
)
def test_walk_options_with_a_built_graph_raise(option: dict[str, object]) -> None:
    loss, _ = program()
    graph = build_graph(loss)
    with pytest.raises(GradvizError, match="walk options need tensors"):
        render(graph, **option)
    with pytest.raises(GradvizError, match="walk options need tensors"):
        to_dot(graph, **option)


def test_text_entry_points_accept_tensors_or_a_graph() -> None:
    loss, params = program()
    graph = build_graph(loss, params=params)
    assert to_dot(loss, params=params) == to_dot(graph)
    assert to_json(loss, params=params) == to_json(graph)
    assert to_dot({"loss": loss}) != to_dot(loss)  # the dict key names the root
    assert '"name": "loss"' in to_json({"loss": loss})


@pytest.mark.dot
def test_to_svg_accepts_tensors_or_a_graph() -> None:
    loss, params = program()
    graph = build_graph(loss, params=params)
    assert to_svg(loss, params=params) == to_svg(graph)
    assert "<svg" in to_svg(graph, rankdir="LR")


def test_print_tree_accepts_tensors_or_a_graph() -> None:
    loss, params = program()
    graph = build_graph(loss, params=params)
    outputs = []
    for source, options in ((loss, {"params": params}), (graph, {})):
        console = Console(width=80, color_system=None, record=False)
        console.begin_capture()
        print_tree(source, console=console, **options)
        outputs.append(console.end_capture())
    assert outputs[0] == outputs[1]
    assert "PowBackward0" in outputs[0] and "■ w  (2,) float32" in outputs[0]


def test_print_tree_folds_past_the_node_budget_unless_told_not_to() -> None:
    leaves = [torch.ones(1, requires_grad=True) for _ in range(2000)]
    total = torch.stack([x * 2.0 for x in leaves]).sum()  # 4,002 nodes
    printed = []
    for options in ({}, {"max_nodes": 0}):
        console = Console(width=200, color_system=None)
        console.begin_capture()
        print_tree(total, console=console, **options)
        printed.append(console.end_capture())
    assert "MulBackward0 ×2000" in printed[0] and "pass --max-nodes 0" in printed[0]
    assert printed[1].count("MulBackward0") == 2000 and "folded" not in printed[1]


def test_graph_is_a_graph() -> None:
    loss, _ = program()
    assert isinstance(build_graph(loss), Graph)


def test_public_functions_are_not_shadowed_by_submodules() -> None:
    import graphviz_autograd.cli  # noqa: F401  (imports every submodule it uses)
    import graphviz_autograd.trace.record  # noqa: F401

    assert callable(graphviz_autograd.capture)
    assert graphviz_autograd.capture.__module__ == "graphviz_autograd.trace.record"


def test_import_and_help_do_not_load_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, graphviz_autograd, graphviz_autograd.cli\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "graphviz_autograd.render\n"
        "assert 'torch' not in sys.modules\n"
        "graphviz_autograd.build_graph\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- pictures within a deadline -------------------------------------------------------------------


def wide(n: int = 4000) -> Graph:
    """One leaf times n numbers, stacked: quick to walk, over 10 s for `dot` unfolded."""
    x = torch.ones(1, requires_grad=True)
    return build_graph(torch.stack([x * float(i) for i in range(n)]).sum())


@pytest.mark.dot
def test_a_layout_that_never_finishes_in_time_leaves_its_dot_beside_the_file(
    tmp_path: Path,
) -> None:
    from graphviz_autograd import LayoutTimeoutError

    graph = wide()
    with pytest.raises(LayoutTimeoutError, match="longer than 1 s") as raised:
        to_svg(graph, max_nodes=0, timeout=1)  # 0: fold nothing, so nothing to retry
    assert raised.value.dot == to_dot(graph)
    with pytest.raises(LayoutTimeoutError, match=r"wrote its DOT to .*g\.dot"):
        render(graph, tmp_path / "g.svg", max_nodes=0, timeout=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot"]  # no g.svg
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == to_dot(graph)


@pytest.mark.dot
def test_a_layout_over_half_its_time_is_folded_further_and_drawn() -> None:
    from graphviz_autograd.renderers.picture import draw

    graph = wide()  # under max_nodes=9000 it is not folded
    # `dot` takes about 5 s over it on a quiet machine, more on a busy one: the first layout
    # (half of 3 s) never finishes; the folded one (4 nodes) does in what is left.
    picture = draw(graph, "svg", max_nodes=9000, timeout=3)
    assert len(picture.redrawn) == 1 and "folded to at most 1,000 nodes" in picture.redrawn[0]
    assert len(picture.graph) == 4 and picture.redrawn[0] in picture.graph.notes
    assert isinstance(picture.data, str) and "×4000" in picture.data


def nested_modules(ops: int = 120) -> Graph:
    """A chain of ``ops`` random ops, no two alike in a row, in modules three levels deep
    (``net.b0.l0``, 8 ops each): too little repeats for folding alone to shrink it much."""
    rng = random.Random(0)
    names = ["MulBackward0", "AddBackward0", "ExpBackward0", "SinBackward0", "TanhBackward0"]
    picked = ["SumBackward0"]
    for _ in range(ops - 1):
        picked.append(rng.choice([name for name in names if name != picked[-1]]))
    nodes = [
        Node(f"n{i}", "op", op=name, module=f"net.b{i // 40}.l{i // 8}")
        for i, name in enumerate(picked)
    ]
    nodes.append(Node(f"n{ops}", "leaf", op="AccumulateGrad", name="x", is_leaf=True))
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(ops)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


@pytest.mark.dot
def test_a_big_graph_with_modules_gets_a_depth_chosen_for_it() -> None:
    from graphviz_autograd.renderers.picture import draw

    graph = nested_modules()
    picture = draw(graph, "svg", max_nodes=30)
    shown = picture.graph
    assert picture.chosen_depth == 2
    assert len(shown) <= 30 and sum(n.count for n in shown.nodes) == len(graph)
    # Depth 2 (net.b0.l0 as one node) fits: 15 modules, the root and the leaf.
    assert {n.name for n in shown.nodes if n.op == "module"} == {
        f"net.b{i // 5}.l{i}" for i in range(15)
    }
    note = "modules deeper than 2 levels are drawn as one node each (15 collapsed); chosen"
    assert any(line.startswith(note) and "--depth N" in line for line in shown.notes)
    assert "chosen" in picture.data
    # A depth given is kept; a graph that fits gets none.
    given = draw(graph, max_nodes=30, depth=1)
    assert given.chosen_depth is None and not any("chosen" in line for line in given.graph.notes)
    assert draw(graph).graph is graph


def test_a_negative_timeout_is_an_error() -> None:
    loss, _ = program()
    with pytest.raises(GradvizError, match="timeout must be 0"):
        to_svg(loss, timeout=-1)
