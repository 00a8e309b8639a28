"""What the tooltip knows, the picture can show: ``labels="full"`` (--labels full) puts source
lines, attributes and gradient values in node labels, so PNG, PDF and the tree show them;
--show-attrs lists attributes in the labels of every format."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from conftest import Gradviz
from rich.console import Console

from graphviz_autograd import capture
from graphviz_autograd.model import Graph
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.tree import print_graph_tree

MLP = Path(__file__).resolve().parents[2] / "samples" / "mlp.py"


def mlp() -> Graph:
    with capture(source=True, show_attrs=True) as cap:
        runpy.run_path(str(MLP), run_name="__main__")
    return cap.graph


def labels(dot: str) -> str:
    """The label texts only, not the tooltips."""
    return "\n".join(
        line.split(' label="', 1)[1] for line in dot.splitlines() if ' label="' in line
    )


def test_full_labels_show_source_attrs_and_values(capsys: pytest.CaptureFixture[str]) -> None:
    graph = mlp()
    short, full = labels(to_dot(graph)), labels(to_dot(graph, labels="full"))
    for text in ("mlp.py:23: pred = model(x)", "alpha: 1", "values: [-0.001668, -0.3617"):
        assert text not in short and text in full


def test_attrs_labels_show_attrs_only(capsys: pytest.CaptureFixture[str]) -> None:
    shown = labels(to_dot(mlp(), labels="attrs"))
    assert "alpha: 1" in shown and "mlp.py:23" not in shown and "values: [" not in shown


def test_the_tree_shows_them_too(capsys: pytest.CaptureFixture[str]) -> None:
    graph = mlp()
    console = Console(width=400, record=True, color_system=None)
    print_graph_tree(graph, console=console, full=True)
    text = console.export_text()
    assert "mlp.py:23: pred = model(x)" in text and "alpha=1" in text
    assert "values: [-0.001668, -0.3617" in text


@pytest.mark.dot
def test_show_attrs_and_full_labels_through_the_cli(gradviz: Gradviz, tmp_path: Path) -> None:
    def run(*args: str) -> str:
        done = gradviz("run", MLP, "-o", "-", "-f", "dot", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return labels(done.stdout)

    assert "alpha: 1" in run("--show-attrs") and "alpha" not in run()
    assert "mlp.py:23: pred = model(x)" in run("--labels", "full")
