"""DOT text, quoting, and what Graphviz `dot` makes of it (SVG/PNG/PDF)."""

from __future__ import annotations

import html
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from graphviz_autograd.errors import GradvizError, GraphvizNotFoundError
from graphviz_autograd.model import Edge, Graph, Node, SavedTensor, Source, TensorStats
from graphviz_autograd.renderers.dot import to_dot, to_image, to_svg
from graphviz_autograd.renderers.dot_clusters import _tree
from graphviz_autograd.renderers.dot_nodes import _ORDINARY, _is_plain, _plain_rest, _rest
from graphviz_autograd.renderers.dot_quoting import dot_ids, quote
from graphviz_autograd.renderers.layout import _dot_command
from graphviz_autograd.renderers.style import roles_present

HOSTILE = '<script>alert(1)</script>"];x->y;'


# --------------------------------------------------------------------------- hand-built graphs


def chain() -> Graph:
    """loss = (w * 2).sum(), before backward."""
    return Graph(
        nodes=(
            Node("n0", "op", op="SumBackward0", shape=(), dtype="float32"),
            Node("n1", "op", op="MulBackward0", shape=(3,), dtype="float32"),
            Node("n2", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(3,)),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n1", 0)),
        roots=("n0",),
    )


def diamond() -> Graph:
    """loss = sin(x) + cos(x): x is shared by two ops."""
    return Graph(
        nodes=(
            Node("n0", "op", op="AddBackward0", shape=(), dtype="float64"),
            Node("n1", "op", op="SinBackward0", shape=(), dtype="float64"),
            Node("n2", "leaf", op="AccumulateGrad", name="x", is_leaf=True, dtype="float64"),
            Node("n3", "op", op="CosBackward0", shape=(), dtype="float64"),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n1", 0), Edge("n3", "n0", 1), Edge("n2", "n3", 0)),
        roots=("n0",),
    )


def leaf_grads() -> Graph:
    """After backward: a small leaf with values and NaN/Inf, a big one without values."""
    small = TensorStats((2, 2), 2.5, -1.5, 2.0, 0.25, 1, 1, (float("nan"), -1.5, 2.0, float("inf")))
    big = TensorStats((10, 8), 12.345678, -0.987654, 1.5, 0.0123, 0, 0, None)
    return Graph(
        nodes=(
            Node("n0", "op", op="AddmmBackward0", shape=(4, 10), dtype="float32"),
            Node("n1", "leaf", op="AccumulateGrad", name="fc.bias", is_leaf=True, shape=(2, 2),
                 dtype="float32", grad=small),
            Node("n2", "leaf", op="AccumulateGrad", name="fc.weight", is_leaf=True, shape=(10, 8),
                 dtype="float32", grad=big),
            Node("n3", "leaf", op="AccumulateGrad", is_leaf=True, shape=(1,), dtype="float32",
                 grad=TensorStats((1,), 0.5, -0.5, -0.5, -0.5, 0, 0, (-0.5,))),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n0", 1), Edge("n3", "n0", 2)),
        roots=("n0",),
    )  # fmt: skip


def saved_and_inputs() -> Graph:
    """z = w * x with x needing no grad; show_saved after backward (one saved tensor freed)."""
    return Graph(
        nodes=(
            Node("n0", "op", op="MulBackward0", shape=(3,), dtype="float32",
                 attrs=(("other_sym_sizes", "(3,)"),)),
            Node("n1", "saved", name="other", requires_grad=False, shape=(3,), dtype="float32"),
            Node("n2", "saved", name="self", requires_grad=False, freed=True),
            Node("n3", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(3,),
                 dtype="float32"),
            Node("n4", "input", requires_grad=False),
        ),
        edges=(
            Edge("n1", "n0", None, "saved"),
            Edge("n2", "n0", None, "saved"),
            Edge("n3", "n0", 0),
            Edge("n4", "n0", 1),
        ),
        roots=("n0",),
    )  # fmt: skip


def two_roots() -> Graph:
    """{"loss": ..., "aux": ...}: two named roots sharing a leaf; aux retains its grad."""
    return Graph(
        nodes=(
            Node("n0", "op", op="MeanBackward0", name="loss", shape=(), dtype="float32"),
            Node("n1", "leaf", op="AccumulateGrad", name="w", is_leaf=True, shape=(2,),
                 dtype="float32"),
            Node("n2", "op", op="ExpBackward0", name="aux", retains_grad=True, shape=(2,),
                 dtype="float32", grad=TensorStats((2,), 1.0, 0.5, 0.5, 0.5, 0, 0, (0.5, 0.5))),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n1", "n2", 0)),
        roots=("n0", "n2"),
    )  # fmt: skip


def hostile() -> Graph:
    """A hostile string everywhere user data can go."""
    return Graph(
        nodes=(
            Node("n0", "op", op=HOSTILE + "Backward", name=HOSTILE, shape=(2,), dtype="float32",
                 attrs=((HOSTILE, HOSTILE),)),
            Node("n1", "leaf", op="AccumulateGrad", name=HOSTILE, is_leaf=True, shape=(2,),
                 dtype="float32"),
            Node("n2", "saved", name=HOSTILE, requires_grad=False, shape=(2,), dtype="float32"),
        ),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n0", None, "saved")),
        roots=("n0",),
    )  # fmt: skip


def mlp_modules() -> Graph:
    """A captured 2-layer ``nn.Sequential`` MLP: ops and parameters in their module's box, ops
    shaded by gradient norms from 0.01 to 1."""

    def op(i: int, name: str, norm: float, module: str | None) -> Node:
        grad = TensorStats((4, 3), norm, -norm, norm, 0.0, 0, 0, None)
        return Node(f"n{i}", "op", op=name, shape=(4, 3), dtype="float32", grad=grad, module=module)

    def param(i: int, name: str, module: str) -> Node:
        return Node(
            f"n{i}",
            "leaf",
            op="AccumulateGrad",
            name=name,
            is_leaf=True,
            shape=(3,),
            dtype="float32",
            module=module,
        )

    return Graph(
        nodes=(
            op(0, "MeanBackward0", 1.0, None),
            op(1, "AddmmBackward0", 1.0, "model.2"),
            param(2, "model.2.bias", "model.2"),
            op(3, "ReluBackward0", 0.3, "model.1"),
            op(4, "TBackward0", 0.1, "model.2"),
            param(5, "model.2.weight", "model.2"),
            op(6, "AddmmBackward0", 0.03, "model.0"),
            param(7, "model.0.bias", "model.0"),
            op(8, "TBackward0", 0.01, "model.0"),
            param(9, "model.0.weight", "model.0"),
        ),
        edges=(
            Edge("n1", "n0", 0),
            Edge("n2", "n1", 0),
            Edge("n3", "n1", 1),
            Edge("n4", "n1", 2),
            Edge("n5", "n4", 0),
            Edge("n6", "n3", 0),
            Edge("n7", "n6", 0),
            Edge("n8", "n6", 2),
            Edge("n9", "n8", 0),
        ),
        roots=("n0",),
    )  # fmt: skip


GOLDEN_CASES: dict[str, Callable[[], Graph]] = {
    "mlp_modules": mlp_modules,
    "chain": chain,
    "diamond": diamond,
    "leaf_grads": leaf_grads,
    "saved_and_inputs": saved_and_inputs,
    "two_roots": two_roots,
}


# --------------------------------------------------------------------------- golden DOT


@pytest.mark.parametrize("case", list(GOLDEN_CASES), ids=list(GOLDEN_CASES))
def test_golden_dot(case: str, golden: Callable[[str, str], None]) -> None:
    golden(f"{case}.dot", to_dot(GOLDEN_CASES[case]()))


def test_golden_dot_left_to_right_without_legend(golden: Callable[[str, str], None]) -> None:
    golden("chain_lr_nolegend.dot", to_dot(chain(), rankdir="LR", legend=False))


def test_same_graph_same_bytes() -> None:
    assert to_dot(leaf_grads()) == to_dot(leaf_grads())


@pytest.mark.parametrize("rankdir", ["tb", "XY", ""], ids=["lowercase", "unknown", "empty"])
def test_bad_rankdir(rankdir: str) -> None:
    with pytest.raises(GradvizError, match="rankdir"):
        to_dot(chain(), rankdir=rankdir)


def test_legend_lists_only_roles_present() -> None:
    text = to_dot(chain())
    assert "leaf that requires grad" in text and "op (backward function)" in text
    assert "tensor saved for backward" not in text and "needs no grad" not in text
    assert "tensor saved for backward" in to_dot(saved_and_inputs())


def test_legend_is_one_role_per_row_and_the_ramp_shows_its_range() -> None:
    legend = to_dot(mlp_modules()).split("label=<", 1)[1].split(">];", 1)[0]
    # the palest shade stands for the smallest op norm (0.01), the darkest for the largest
    # (1; the root's own gradient is not shaded)
    assert '<td>0.01</td><td bgcolor="#f2f0f7"' in legend
    assert '<td bgcolor="#54278f" border="1" width="12"> </td><td>1</td>' in legend
    assert legend.count("<tr><td bgcolor=") == 3  # output, leaf, op: a row each
    nan = TensorStats((2,), None, None, None, None, 2, 0, None)
    graph = mlp_modules()
    graph = graph.replace(nodes=(*graph.nodes[:3], graph.nodes[3]._replace(grad=nan),
                                 *graph.nodes[4:]))  # fmt: skip
    assert "NaN/Inf" in to_dot(graph)
    assert "<td>0.01</td>" in to_dot(graph)  # the ramp still spans the finite norms


def test_module_boxes_are_labelled_inside_each_other_and_ranked_as_one() -> None:
    text = to_dot(mlp_modules())
    assert " newrank=true " in text.splitlines()[1]  # one ranking, not one per box
    assert 'subgraph cluster_m1 { label="0" tooltip="model.0" ' in text
    assert 'subgraph cluster_m0 { label="model" tooltip="model" ' in text
    assert 'label="weight\\n(3,) float32"' in text  # model.0.weight in the box of model.0
    # each parameter on the rank of its only consumer, inside its module's box
    box = text.split("subgraph cluster_m1 ", 1)[1].split("    }\n", 1)[0]
    assert "{ rank=same; n7; n6; }" in box and "{ rank=same; n9; n8; }" in box
    assert "newrank" not in to_dot(chain())  # no boxes: dot's ordinary ranking


def test_a_box_holding_only_one_box_is_drawn_as_that_box() -> None:
    modules = ("model", "model.encoder.stages.0", "model.encoder.stages.1")
    nodes = tuple(Node(f"n{i}", "op", op="ReluBackward0", module=m) for i, m in enumerate(modules))
    edges = (Edge("n2", "n1", 0), Edge("n1", "n0", 0))
    text = to_dot(Graph(nodes, edges, ("n0",)))
    labels = re.findall(r'subgraph cluster_m\d+ \{ label="([^"]*)" tooltip="([^"]*)"', text)
    assert labels == [
        ("model", "model"),
        ("encoder.stages", "model.encoder.stages"),  # model.encoder holds nothing else
        ("0", "model.encoder.stages.0"),
        ("1", "model.encoder.stages.1"),
    ]


def test_a_parameter_used_twice_or_outside_its_module_floats() -> None:
    graph = mlp_modules()
    edges = (*graph.edges, Edge("n9", "n4", 1), Edge("n2", "n0", 1))  # shared, and used outside
    text = to_dot(graph.replace(edges=edges))
    assert "rank=same; n9;" not in text and "rank=same; n2;" not in text
    assert "{ rank=same; n5; n4; }" in text and "{ rank=same; n7; n6; }" in text


@pytest.mark.parametrize("inputs", [4, 5], ids=["four", "five"])
def test_edges_into_a_node_of_five_inputs_or_more_are_bundled(inputs: int) -> None:
    nodes = (Node("n0", "op", op="CatBackward0"),) + tuple(
        Node(f"n{i}", "leaf", op="AccumulateGrad", is_leaf=True) for i in range(1, inputs + 1)
    )
    edges = tuple(Edge(f"n{i}", "n0", i - 1) for i in range(1, inputs + 1))
    header = to_dot(Graph(nodes, edges, ("n0",))).splitlines()[1]
    assert ("concentrate=true" in header) == (inputs >= 5)


def test_a_roots_kind_is_in_the_legend_only_when_another_node_has_it() -> None:
    def roles(kinds: list[str], roots: tuple[str, ...]) -> list[str]:
        nodes = tuple(Node(f"n{i}", kind) for i, kind in enumerate(kinds))  # type: ignore[arg-type]
        return list(roles_present(Graph(nodes=nodes, edges=(), roots=roots)))

    assert roles(["op", "leaf"], ("n0",)) == ["output", "leaf"]  # the only op is the root
    assert roles(["op", "op", "leaf"], ("n0",)) == ["output", "leaf", "op"]
    assert roles(["op", "op", "op", "leaf"], ("n0",)) == ["output", "leaf", "op"]
    assert roles(["op", "op", "leaf"], ("n0", "n1")) == ["output", "leaf"]  # both ops are roots
    assert roles(["leaf", "op"], ("n1", "n1")) == ["output", "leaf"]  # a root named twice
    assert roles(["op", "leaf"], ("n9",)) == ["leaf", "op"]  # not a node here: no output
    assert roles(["op", "leaf"], ()) == ["leaf", "op"]


# --------------------------------------------------------------------------- quoting


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("trailing\\", r'"trailing\\"'),
        ('\\"', r'"\\\""'),
        ("two\nlines", r'"two\nlines"'),
        ("crlf\r\nline", r'"crlf\nline"'),
        ("carriage\rreturn", '"carriagereturn"'),
        (r"\N", r'"\\N"'),
        (r"\G \E \T \H \L", r'"\\G \\E \\T \\H \\L"'),
        (r"\l \r \n", r'"\\l \\r \\n"'),
        ("<b>html</b>", '"<b>html</b>"'),
        ("{a|b}", '"{a|b}"'),
        ("ünïcødé ‖·‖", '"ünïcødé ‖·‖"'),
        ("a &lt; b &#92; c & d", '"a &amp;lt; b &amp;#92; c &amp; d"'),
    ],
    ids=[
        "plain",
        "empty",
        "double-quotes",
        "backslash",
        "trailing-backslash",
        "backslash-quote",
        "newline",
        "crlf",
        "carriage-return",
        "node-name-escape",
        "other-escapes",
        "line-break-escapes",
        "html-like",
        "record-like",
        "unicode",
        "entities",
    ],
)
def test_quote(text: str, quoted: str) -> None:
    assert quote(text) == quoted


def _node_statements(dot: str) -> list[str]:
    return [line for line in dot.splitlines() if re.match(r"  n\d+ \[", line)]


def _edge_statements(dot: str) -> list[str]:
    return [line for line in dot.splitlines() if re.match(r"  n\d+ -> n\d+", line)]


def test_hostile_names_stay_inside_their_quotes() -> None:
    graph = hostile()
    dot = to_dot(graph)
    nodes = _node_statements(dot)
    assert [s.split(" ", 3)[2] for s in nodes] == ["n0", "n1", "n2"]
    assert _edge_statements(dot) == [
        "  n1 -> n0;",
        '  n2 -> n0 [style=dashed color="#d9a441" arrowhead=odot];',
    ]
    assert len(dot.splitlines()) == 4 + len(nodes) + 2 + 1
    # With every quoted string emptied, the node statements are our own skeleton.
    skeletons = [re.sub(r'"(?:[^"\\]|\\.)*"', '""', s) for s in nodes]
    assert skeletons == [
        '  n0 [tooltip="" label="" fillcolor="" style=""];',
        '  n1 [tooltip="" label="" fillcolor=""];',
        '  n2 [tooltip="" label="" fillcolor="" style="" shape=note fontcolor=""];',
    ]
    # ... and the name is there, escaped, in every label.
    escaped = quote(HOSTILE)[1:-1]
    assert all(f'" label="{escaped}' in s or f'" label="saved {escaped}' in s for s in nodes)


def sum_of_a_leaf(root: str, leaf: str) -> Graph:
    """A hand-built graph: the root op ``root`` sums the leaf ``leaf`` (named w)."""
    return Graph(
        nodes=(Node(root, "op", op="SumBackward0"), Node(leaf, "leaf", name="w", is_leaf=True)),
        edges=(Edge(leaf, root, 0),),
        roots=(root,),
    )


def test_hand_built_ids_that_are_not_plain_identifiers_are_quoted() -> None:
    odd = 'a b";x->y'
    dot = to_dot(sum_of_a_leaf(odd, "n-1"))
    assert f"  {quote(odd)} [tooltip=" in dot
    assert '  "n-1" [tooltip="n-1: w' in dot and '" label="w"' in dot
    assert f'  "n-1" -> {quote(odd)};' in dot
    assert "x->y;" not in dot.replace(quote(odd), "")


def test_nodes_alike_but_for_their_id_share_a_label_and_keep_their_own_id() -> None:
    leaves = tuple(Node(f"n{i}", "leaf", name="x", is_leaf=True, shape=(1,)) for i in (1, 2))
    graph = Graph(
        nodes=(Node("n0", "op", op="StackBackward0"), *leaves),
        edges=(Edge("n1", "n0", 0), Edge("n2", "n0", 1)),
        roots=("n0",),
    )
    lines = _node_statements(to_dot(graph))
    assert lines[1].replace("n1", "nX") == lines[2].replace("n2", "nX")
    assert 'tooltip="n1: x' in lines[1] and 'tooltip="n2: x' in lines[2]


def test_leaves_alike_but_for_their_name_share_all_but_their_title() -> None:
    names = ["fc.weight", 'say "hi"\n', None]
    leaves = tuple(
        Node(
            f"n{i}",
            "leaf",
            op="AccumulateGrad",
            name=name,
            is_leaf=True,
            shape=(2, 3),
            dtype="float32",
        )
        for i, name in enumerate(names, start=1)
    )
    graph = Graph(
        nodes=(Node("n0", "op", op="StackBackward0"), *leaves),
        edges=tuple(Edge(f"n{i}", "n0", i - 1) for i in range(1, 4)),
        roots=("n0",),
    )
    facts = (
        "\\nop: AccumulateGrad\\nshape: (2, 3)  dtype: float32\\n"
        "is_leaf: True  requires_grad: True\\ngrad: None (no backward yet)"
    )
    heads = ["fc.weight", 'say \\"hi\\"\\n', "leaf"]
    assert _node_statements(to_dot(graph))[1:] == [
        f'  n{i} [tooltip="n{i}: {head}{facts}" label="{head}\\n(2, 3) float32" '
        'fillcolor="#a9cdf5"];'
        for i, head in enumerate(heads, start=1)
    ]


def test_captured_nodes_alike_but_for_their_order_share_all_but_it() -> None:
    # Captured graphs give each node its own backward order; the rest of a node's description
    # is shared with the nodes whose other fields are equal, and only with those.
    one = TensorStats((1,), 1.0, 1.0, 1.0, 1.0, 0, 0, (1.0,))
    two = TensorStats((1,), 2.0, 2.0, 2.0, 2.0, 0, 0, (2.0,))
    big = TensorStats((100,), 3.0, -1.0, 1.0, 0.0, 0, 0, None)
    mul = Node("", "op", op="MulBackward0", shape=(1,), dtype="float32")
    grads = [one, one, one, two, big]
    graph = Graph(
        nodes=tuple(
            mul._replace(id=f"n{i}", grad=grad, order=i + 1) for i, grad in enumerate(grads)
        ),
        edges=tuple(Edge(f"n{i + 1}", f"n{i}", 0) for i in range(4)),
        roots=("n0",),
    )
    lines = _node_statements(to_dot(graph, show_order=True))
    assert lines[1].replace("n1", "nX").replace("#2 ", "#") == lines[2].replace("n2", "nX").replace(
        "#3 ", "#"
    )
    assert 'label="#2 MulBackward0\\n(1,) float32\\ngrad=1"' in lines[1]
    assert 'label="#4 MulBackward0\\n(1,) float32\\ngrad=2"' in lines[3]
    assert "values: [2]" in lines[3] and "values: [1]" not in lines[3]
    assert "norm 3 min -1 max 1" in lines[4] and 'label="#5 MulBackward0' in lines[4]


PLAIN_VARIANTS = [
    (kind, op, name, is_leaf, requires_grad, retains, shape, dtype)
    for kind, op, is_leaf in [
        ("op", "MulBackward0", False),
        ("op", None, False),
        ("leaf", "AccumulateGrad", True),
        ("leaf", None, True),
        ("input", None, False),
        ("saved", None, False),
    ]
    for name in [None, "x"]
    for requires_grad, retains in [(True, False), (True, True), (False, False)]
    for shape, dtype in [(None, None), ((), "float32"), ((3,), None), ((2, 3), "int64")]
]


def test_plain_nodes_are_described_as_any_node() -> None:
    for fields in PLAIN_VARIANTS:
        node = Node("", *fields)  # type: ignore[arg-type]
        assert _is_plain(node), fields
        plain = _plain_rest(
            node.kind,
            None if node.kind == "op" else node.op,
            node.shape,
            node.dtype,
            node.is_leaf,
            node.requires_grad,
            node.retains_grad,
            node.kind,
            None,
        )
        assert plain == _rest(node, node.kind, _ORDINARY), fields


@pytest.mark.parametrize(
    "change",
    [
        {"grad": TensorStats((3,), 1.0, -1.0, 1.0, 0.0, 0, 0, None)},
        {"attrs": (("dim", "0"),)},
        {"freed": True},
        {"source": Source("t.py", 1, "y = x * 2")},
        {"saved": (SavedTensor("self", (3,), "float32", 12, freed=False),)},
        {"module": "model.0"},
    ],
    ids=["grad", "attrs", "freed", "source", "saved", "module"],
)
def test_nodes_with_more_facts_take_the_general_description(change: dict[str, object]) -> None:
    node = Node("n0", "op", op="MulBackward0", shape=(3,), dtype="float32")._replace(**change)
    assert not _is_plain(node)


@pytest.mark.dot
def test_hostile_names_are_inert_in_svg() -> None:
    svg = to_svg(hostile())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "<script" not in svg
    assert len(re.findall(r'<g id="node\d+" class="node">', svg)) == 3
    assert len(re.findall(r'<g id="edge\d+" class="edge">', svg)) == 2


@pytest.mark.dot
@pytest.mark.parametrize(
    "name",
    [r"a\Nb", r"a\Gb", "a\\lb", "tail\\", 'say "hi"', "x&lt;y &amp; &#92;N z&w"],
    ids=["backslash-N", "backslash-G", "backslash-l", "trailing-backslash", "quotes", "entities"],
)
def test_escapes_print_literally_in_svg_labels(name: str) -> None:
    graph = Graph((Node("n0", "leaf", op="AccumulateGrad", name=name, is_leaf=True),), (), ("n0",))
    svg = to_svg(graph)
    node = re.search(r'<g id="node1" class="node">.*?</g>\n</g>', svg, re.S)
    assert node is not None
    texts = re.findall(r"<text[^>]*>(.*?)</text>", node.group(0))
    assert html.unescape(texts[0]) == name


@pytest.mark.dot
def test_character_entities_print_literally_in_svg_tooltips() -> None:
    # Graphviz reads entities in every string: unescaped, "&lt;" would show as "<".
    name = "x&lt;y &amp; &#92;N z&w"
    graph = Graph((Node("n0", "leaf", op="AccumulateGrad", name=name, is_leaf=True),), (), ("n0",))
    titles = re.findall(r'xlink:title="([^"]*)"', to_svg(graph))
    assert html.unescape(titles[-1]).splitlines()[0] == f"n0: {name}"


# --------------------------------------------------------------------------- SVG and images


@pytest.mark.dot
def test_svg_is_self_contained_and_has_tooltips() -> None:
    svg = to_svg(leaf_grads())
    assert svg.lstrip().startswith("<?xml")
    assert svg.rstrip().endswith("</svg>")
    assert "http://" not in svg.replace("http://www.w3.org/", "")
    assert "https://" not in svg
    hrefs = re.findall(r'(?:xlink:)?href="([^"]*)"', svg)
    assert all(h.startswith("#") or h == "" for h in hrefs), hrefs
    assert "<image" not in svg
    titles = [html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', svg)]
    bias = next(t for t in titles if t.startswith("n1: fc.bias"))
    assert "norm 2.5 min -1.5 max 2 mean 0.25 NaN 1 Inf 1" in bias
    assert "values: [NaN, -1.5, 2, Inf]" in bias
    weight = next(t for t in titles if t.startswith("n2: fc.weight"))
    assert "shape: (10, 8)" in weight and "values" not in weight


@pytest.mark.dot
def test_svg_is_byte_identical_across_runs() -> None:
    assert to_svg(two_roots()) == to_svg(two_roots())
    assert to_svg(hostile()) == to_svg(hostile())


@pytest.mark.dot
@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-"), ("svg", b"<?xml")],
    ids=["png", "pdf", "svg"],
)
def test_to_image_magic_bytes(fmt: str, magic: bytes) -> None:
    data = to_image(diamond(), fmt)  # type: ignore[arg-type]
    assert data.startswith(magic)
    assert len(data) > 200


def test_to_image_rejects_unknown_format() -> None:
    with pytest.raises(GradvizError, match="unknown image format 'gif'"):
        to_image(chain(), "gif")  # type: ignore[arg-type]


def test_missing_dot_raises_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as info:
        to_svg(chain())
    assert "brew install graphviz" in str(info.value)
    assert "DOT or JSON" in str(info.value)
    with pytest.raises(GraphvizNotFoundError):
        to_image(chain(), "png")
    assert to_dot(chain()).startswith("digraph gradviz {")  # DOT still works


@pytest.mark.dot
@pytest.mark.parametrize("keyword", ["node", "Edge", "GRAPH", "subgraph", "strict", "digraph"])
def test_ids_that_are_dot_keywords_are_quoted(keyword: str) -> None:
    graph = sum_of_a_leaf(keyword, "n1")
    dot = to_dot(graph)
    assert f'  "{keyword}" [tooltip="{keyword}: ' in dot
    assert f'  n1 -> "{keyword}";' in dot
    assert f"<title>{keyword}</title>" in to_svg(graph)  # dot parses it as a node id


def test_first_nonfinite_is_marked_even_without_a_gradient() -> None:
    graph = Graph(chain().nodes, chain().edges, ("n0",), first_nonfinite="n1")
    (line,) = [s for s in _node_statements(to_dot(graph)) if s.startswith("  n1 ")]
    assert "\\n⚠ first NaN/Inf in backward" in line
    assert line.endswith(' color="#d00000" penwidth=3];')


def test_plain_ids_are_their_own_dot_ids_and_others_are_quoted() -> None:
    ids = ["n0", "n1", "x_2"]
    assert dot_ids(ids) is ids
    assert dot_ids(["n0", "Node", "a b", "é"]) == ["n0", '"Node"', '"a b"', '"é"']


def test_module_paths_make_a_tree_with_every_prefix_shallow_first() -> None:
    tree = _tree(["model.1.fc", "model.0", "head"])
    assert tree.tops == ["head", "model"]
    assert tree.children["model"] == ["model.0", "model.1"]
    assert tree.children["model.1"] == ["model.1.fc"]
    assert list(tree.number) == ["head", "model", "model.0", "model.1", "model.1.fc"]


@pytest.mark.skipif(sys.platform != "linux", reason="dot runs through the helper on Linux only")
def test_dot_runs_through_a_helper_that_dies_with_its_parent() -> None:
    command = _dot_command("/usr/bin/dot", "svg")
    assert command[:3] == [sys.executable, "-I", "-S"]
    assert Path(command[3]).is_file() and Path(command[3]).name == "_die_with_parent.py"
    assert command[4:] == [str(os.getpid()), "/usr/bin/dot", "-Tsvg"]
