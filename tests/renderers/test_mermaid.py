"""Mermaid output: the flowchart text, its escaping and folding, through the API and the CLI,
and drawn by Mermaid itself (npm mermaid, pinned) in headless Chromium."""

from __future__ import annotations

import importlib.util
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import CHROMIUM, Gradviz

from graphviz_autograd import Edge, Graph, Node, TensorStats, build_graph, render, to_mermaid
from graphviz_autograd.renderers import mermaid
from graphviz_autograd.renderers.fitting import fit_mermaid
from graphviz_autograd.renderers.style import GRAD_RAMP, LEGEND

ROOT = Path(__file__).parents[2]
HOSTILE = '<script>alert(1)</script> "q" [b] (p) {c} #35; a;b %% c `t` & | end --> x\\n'


def _fetcher() -> Any:
    spec = importlib.util.spec_from_file_location(
        "fetch_mermaid", ROOT / "scripts/fetch_mermaid.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hostile() -> Graph:
    """A hostile name wherever user text goes: names, ops, a module path, odd node ids."""
    return Graph(
        nodes=(
            Node("n0", "op", op=HOSTILE + "Backward", name=HOSTILE, shape=(2,), dtype="float32"),
            Node('id "]; x', "leaf", op="AccumulateGrad", name=HOSTILE + "\nline 2", is_leaf=True,
                 shape=(2,), dtype="float32", module=HOSTILE + ".inner"),
            Node("end", "saved", name=HOSTILE, requires_grad=False, freed=True),
            Node("n3", "input", requires_grad=False, module="model.0"),
        ),
        edges=(
            Edge('id "]; x', "n0", 0),
            Edge("end", "n0", None, "saved"),
            Edge("n3", "n0", 1),
        ),
        roots=("n0",),
    )  # fmt: skip


def captured() -> Graph:
    """Ops shaded by gradient norm (1e-3 .. 10), one NaN gradient, the first NaN marked."""

    def stats(norm: float, nan: int = 0) -> TensorStats:
        return TensorStats((2,), norm, -1.0, 1.0, 0.0, nan, 0)

    return Graph(
        nodes=(
            Node("n0", "op", op="MeanBackward0", name="loss", grad=stats(1.0)),
            Node("n1", "op", op="MulBackward0", grad=stats(10.0)),
            Node("n2", "op", op="ExpBackward0", grad=stats(1e-3)),
            Node("n3", "op", op="LogBackward0", grad=stats(0.1, nan=2)),
            Node("n4", "leaf", op="AccumulateGrad", name="w", is_leaf=True),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n1", 0), Edge("n3", "n2", 0), Edge("n4", "n3", 0)),
        roots=("n0",),
        first_nonfinite="n3",
    )


def chain(n: int) -> Graph:
    x = torch.ones(2, requires_grad=True)
    y = x
    for i in range(n):
        y = y * 2 if i % 2 else y + 1
    return build_graph(y.sum())


def wide(n: int) -> Graph:
    """``n`` distinct leaves stacked: nothing to fold but identical branches."""
    leaves = [torch.ones(2, requires_grad=True) for _ in range(n)]
    return build_graph(torch.stack([leaf * 2 for leaf in leaves]).sum())


def joined(name: str) -> str:
    """``name`` as Mermaid draws it: with an invisible word joiner inside `mermaid.JOINED`."""
    for pair, replacement in mermaid.JOINED.items():
        name = name.replace(pair, replacement)
    return name


def labels(text: str) -> dict[str, str]:
    """Node id -> its label, as written."""
    return dict(re.findall(r'^\s+(\w+)[(>\[]"(.*)"[)\]]', text, re.M))


# The text


def test_flowchart_colours_shapes_and_edges() -> None:
    text = mermaid.to_mermaid(hostile())
    assert text.startswith("flowchart TB\n")
    assert f"classDef output fill:{LEGEND['output'].fill}" in text
    assert f"classDef leaf fill:{LEGEND['leaf'].fill}" in text
    assert "stroke-dasharray" in text.split("classDef input", 1)[1].split("\n", 1)[0]
    assert re.search(r"^  n0\(\".*\"\):::output$", text, re.M)  # a root: rounded, green
    assert re.search(r'^\s+n2>"saved .*"\]:::saved$', text, re.M)  # a saved tensor: a flag
    assert "  n1 --> n0\n" in text and "  n2 -.-> n0\n" in text and "  n3 --> n0\n" in text
    assert "  linkStyle 1 stroke:#d9a441\n" in text  # the saved edge, by its index


def test_every_label_is_escaped() -> None:
    text = mermaid.to_mermaid(hostile())
    found = labels(text)
    assert {"n0", "n1", "n2", "n3"} <= set(found)
    for label in [*found.values(), *re.findall(r'subgraph m\d+\["(.*)"\]', text)]:
        bare = re.sub(r"#\d+;|<br>", "", label)  # entity codes and line breaks are ours
        assert not set(bare) & set('"#<>%`&\\'), label
    assert "#60;script#62;alert(1)#60;/script#62; #34;q#34;" in found["n2"]
    assert "x#92;\u2060n" in found["n2"]  # a backslash-n stays text, not a line break
    assert "<br>line 2" in found["n1"]  # a newline is a line break


def test_modules_are_nested_subgraphs() -> None:
    text = mermaid.to_mermaid(hostile(), legend=False)
    lines = text.splitlines()
    opened = [i for i, line in enumerate(lines) if "subgraph" in line]
    assert len(opened) == 4  # HOSTILE, HOSTILE.inner, model, model.0
    assert text.count("\n  end\n") + text.count("\n    end\n") == 4
    model = next(i for i in opened if lines[i].endswith('["model"]'))
    assert lines[model + 1].strip().startswith("subgraph m") and lines[model + 1].endswith(
        '["model.0"]'
    )
    assert lines[model + 2].strip().startswith("n3(")  # the input made in model.0


def test_gradient_shades_and_first_nan() -> None:
    text = mermaid.to_mermaid(captured())
    assert ":::g6" in text.split("  n1(", 1)[1].split("\n", 1)[0]  # largest norm
    assert ":::g0" in text.split("  n2(", 1)[1].split("\n", 1)[0]  # smallest norm
    assert ":::nonfinite" in text.split("  n3(", 1)[1].split("\n", 1)[0]
    assert "first NaN/Inf in backward" in labels(text)["n3"]
    assert "  class n3 firstbad\n" in text
    assert f"classDef g6 fill:{GRAD_RAMP[6]},stroke:#333333,color:#ffffff" in text
    assert "legend_g0" in text and "legend_g6" in text


def test_same_graph_same_text_and_options() -> None:
    assert mermaid.to_mermaid(captured()) == mermaid.to_mermaid(captured())
    assert mermaid.to_mermaid(captured(), rankdir="LR").startswith("flowchart LR\n")
    assert "legend" not in mermaid.to_mermaid(captured(), legend=False)
    ordered = captured().replace(nodes=tuple(n._replace(order=i + 1) for i, n in
                                             enumerate(captured().nodes)))  # fmt: skip
    assert labels(mermaid.to_mermaid(ordered, show_order=True))["n1"].startswith("#35;2 ")


def test_fit_folds_a_long_chain_and_says_so() -> None:
    graph = chain(3000)
    shown = fit_mermaid(graph)
    text = mermaid.to_mermaid(shown)
    assert shown.edge_count <= mermaid.MAX_EDGES and len(text) <= mermaid.MAX_TEXT
    assert sum(node.count for node in shown.nodes) == len(graph)  # folding keeps every node
    assert any(n.startswith("folded ") for n in shown.notes)
    assert any("Mermaid's limits" in n for n in shown.notes)
    assert "Mermaid's limits (500 edges, 50,000 characters)" in text  # said in the picture


def test_fit_says_when_nothing_more_folds() -> None:
    # 700 leaves of different shapes: no two branches alike, nothing folds.
    leaves = [torch.ones(i + 1, requires_grad=True) for i in range(700)]
    graph = build_graph(torch.stack([leaf.sum() for leaf in leaves]).sum())
    shown = fit_mermaid(graph)
    assert shown.edge_count > mermaid.MAX_EDGES
    assert "more than Mermaid draws by default" in shown.notes[-1]


def test_fit_keeps_a_small_graph() -> None:
    graph = chain(10)
    assert fit_mermaid(graph) is graph


def test_api_to_mermaid_and_render(tmp_path: Path) -> None:
    w = torch.ones(3, requires_grad=True)
    loss = (w * 2).sum()
    text = to_mermaid(loss, params={"w": w})
    assert '("w<br>(3,) float32"):::leaf' in text
    assert render(loss, tmp_path / "g.mmd", params={"w": w}).read_text() == text  # type: ignore[union-attr]
    assert render(loss, tmp_path / "g.txt", format="mermaid").read_text().startswith("flowchart")  # type: ignore[union-attr]
    graph = chain(3000)
    assert len(to_mermaid(graph)) <= mermaid.MAX_TEXT  # folded by default
    assert len(to_mermaid(graph, max_nodes=0).splitlines()) > 6000  # unless told


def test_cli_writes_mermaid(gradviz: Gradviz, tmp_path: Path) -> None:
    result = gradviz("run", ROOT / "samples/mlp.py", "-o", "graph.mmd", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "graph.mmd").read_text().startswith("flowchart TB\n")
    assert "wrote" in result.stderr
    result = gradviz("run", ROOT / "samples/mlp.py", "-f", "mermaid", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "flowchart TB" in result.stdout and ":::leaf" in result.stdout


# Drawn by Mermaid


@pytest.fixture(scope="module")
def draw() -> Iterator[Any]:
    """``draw(text)``: Mermaid parses and renders ``text`` in Chromium; returns a dict with
    ``nodes`` (id, text, fill of each drawn node), ``clusters`` (subgraph titles), ``scripts``
    (script elements in the SVG), or ``error``."""
    from playwright.sync_api import sync_playwright  # the browser marker skips without it

    fetcher = _fetcher()
    script = fetcher.cached_path()
    if not fetcher.is_valid(script):
        pytest.skip(f"no mermaid {fetcher.VERSION}: run python scripts/fetch_mermaid.py")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content('<!doctype html><meta charset="utf-8"><body><div id="out"></div>')
            page.add_script_tag(path=str(script))
            page.evaluate('mermaid.initialize({startOnLoad: false, securityLevel: "strict"})')
            calls = iter(range(1_000_000))

            def run(text: str) -> dict[str, Any]:
                return page.evaluate(  # type: ignore[no-any-return]
                    _DRAW, {"text": text, "id": f"g{next(calls)}"}
                )

            yield run
        finally:
            browser.close()


_DRAW = """async ({text, id}) => {
  const out = document.getElementById("out");
  try {
    await mermaid.parse(text);
    const {svg} = await mermaid.render(id, text);
    out.innerHTML = svg;
  } catch (e) {
    return {error: String(e && e.message || e)};
  }
  const shape = n => n.querySelector("rect, path, polygon");
  return {
    nodes: [...out.querySelectorAll("g.node")].map(n => [
      n.id.replace(id + "-flowchart-", "").replace(/-\\d+$/, ""),
      n.textContent, getComputedStyle(shape(n)).fill]),
    clusters: [...out.querySelectorAll("g.cluster .cluster-label")].map(c => c.textContent),
    edges: out.querySelectorAll(".edgePaths path, path.flowchart-link").length,
    scripts: out.querySelectorAll("script").length,
  };
}"""


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.mark.browser
def test_mermaid_draws_hostile_names_as_text(draw: Any) -> None:
    result = draw(mermaid.to_mermaid(hostile()))
    assert "error" not in result, result
    drawn = {node_id: (text, fill) for node_id, text, fill in result["nodes"]}
    name = joined(HOSTILE)
    assert drawn["n0"][0] == f"{name} = {name}Backward(2,) float32"
    assert drawn["n1"][0] == f"{name}line 2(2,) float32"
    assert drawn["n2"][0] == f"saved {name}freed by backward"
    assert drawn["n0"][1] == _rgb(LEGEND["output"].fill)
    assert drawn["n1"][1] == _rgb(LEGEND["leaf"].fill)
    assert drawn["n2"][1] == _rgb(LEGEND["saved"].fill)
    assert sorted(result["clusters"]) == sorted(
        ["legend", "model", "model.0", name, name + ".inner"]
    )
    assert result["scripts"] == 0
    assert result["edges"] == 3


@pytest.mark.browser
def test_mermaid_draws_gradients_and_a_real_model(draw: Any) -> None:
    result = draw(mermaid.to_mermaid(captured()))
    assert "error" not in result, result
    fills = {node_id: fill for node_id, _, fill in result["nodes"]}
    assert fills["n1"] == _rgb(GRAD_RAMP[6]) and fills["n2"] == _rgb(GRAD_RAMP[0])
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    loss = model(torch.randn(2, 4)).pow(2).mean()
    graph = build_graph(loss, params=dict(model.named_parameters()), show_saved=True)
    result = draw(mermaid.to_mermaid(graph))
    assert "error" not in result, result
    texts = {text for _, text, _ in result["nodes"]}
    assert {"0.weight(8, 4) float32", "2.bias(1,) float32"} <= texts
    assert result["edges"] == graph.edge_count


@pytest.mark.browser
def test_mermaid_draws_folded_big_graphs(draw: Any) -> None:
    for graph in (chain(3000), wide(2000)):
        text = to_mermaid(graph)
        result = draw(text)
        assert "error" not in result, result
        assert result["edges"] == fit_mermaid(graph).edge_count
    result = draw(to_mermaid(chain(3000), max_nodes=0))  # unfolded: Mermaid refuses it
    assert "error" in result or result["nodes"] == [], result


@pytest.mark.browser
@pytest.mark.parametrize("seed", range(8))
def test_mermaid_draws_random_hostile_names_as_themselves(draw: Any, seed: int) -> None:
    """Names made of Mermaid's and HTML's syntax parse, and are drawn as the same text (Mermaid
    trims a label's outer whitespace)."""
    pieces = [*"\"'#&<>%`\\;:[](){}|/-=.*_~^$@!?,+ \t\u2028é→019abXZ"]
    pieces += ["<br>", "-->", "%%", "#quot;", "&amp;", "\\n", "end", "style", "classDef", "click"]
    pieces += ["<!--", "ﬂ°", "ﬂ°°", "¶ß", "%%{init: {}}%%", "---"]
    rnd = random.Random(seed)
    names = ["".join(rnd.choices(pieces, k=rnd.randint(1, 12))) for _ in range(60)]
    nodes = tuple(
        Node(f"n{i}", "leaf", name=name, module=names[-i] if i % 7 == 1 else None)
        for i, name in enumerate(names)
    )
    edges = tuple(Edge(f"n{i}", "n0", i) for i in range(1, len(names)))
    result = draw(mermaid.to_mermaid(Graph(nodes, edges, ("n0",)), legend=False))
    assert "error" not in result, result
    drawn = {node_id: text for node_id, text, _ in result["nodes"]}
    for i, name in enumerate(names):
        assert drawn[f"n{i}"] == joined(name).strip(), name
    assert result["edges"] == len(edges)
