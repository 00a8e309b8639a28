"""Folding before layout: runs of one op, identical branches, identical blocks in series."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
import torch

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.model import Edge, Graph, Node
from graphviz_autograd.renderers.dot import to_dot, to_svg
from graphviz_autograd.renderers.json import to_json
from graphviz_autograd.renderers.labels import title
from graphviz_autograd.trace.walk import build_graph
from graphviz_autograd.transform.fold import (
    DEFAULT_MAX_NODES,
    LAYOUT_SIZE_PER_NODE,
    fits,
    fold,
    fold_chains,
    fold_repeats,
    fold_series,
    layout_size,
)

# --- hand-built graphs ---------------------------------------------------------------------------


def op(node_id: str, name: str, **kw: object) -> Node:
    return Node(id=node_id, kind="op", op=name, shape=(3,), dtype="float32", **kw)  # type: ignore[arg-type]


def leaf(node_id: str, name: str | None = None, shape: tuple[int, ...] = (3,)) -> Node:
    return Node(id=node_id, kind="leaf", op="AccumulateGrad", name=name, is_leaf=True, shape=shape)


def chain(n: int, ops: tuple[str, ...] = ("MulBackward0",)) -> Graph:
    """``n`` ops in a line, ``n0`` the root, fed by one leaf: ``n + 1`` nodes."""
    nodes = [op(f"n{i}", ops[i % len(ops)]) for i in range(n)] + [leaf(f"n{n}", "x")]
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(n)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


def rnn(steps: int) -> Graph:
    """``h = tanh(h @ W + b)`` unrolled, W and b shared by every step."""
    nodes = [op("t0", "TanhBackward0"), leaf("W", "W", (3, 3)), leaf("b", "b")]
    edges: list[Edge] = []
    for s in range(steps):
        nodes += [op(f"a{s}", "AddBackward0"), op(f"m{s}", "MmBackward0")]
        edges += [Edge(f"a{s}", f"t{s}", 0), Edge(f"m{s}", f"a{s}", 0), Edge("b", f"a{s}", 1)]
        if s < steps - 1:
            nodes.append(op(f"t{s + 1}", "TanhBackward0"))
            edges.append(Edge(f"t{s + 1}", f"m{s}", 0))
        else:
            nodes.append(leaf("h0", "h0"))
            edges.append(Edge("h0", f"m{s}", 0))
        edges.append(Edge("W", f"m{s}", 1))
    return Graph(tuple(nodes), tuple(edges), ("t0",))


def total(graph: Graph) -> int:
    return sum(node.count for node in graph.nodes)


def check(original: Graph, folded: Graph) -> None:
    """The invariants every folding keeps."""
    ids = {node.id for node in folded.nodes}
    assert len(ids) == len(folded.nodes)
    assert ids <= {node.id for node in original.nodes}
    assert all(e.src in ids and e.dst in ids for e in folded.edges)
    assert folded.roots == original.roots
    assert folded.first_nonfinite == original.first_nonfinite
    assert total(folded) == total(original)
    # Kept nodes are the original ones, count aside (and the name and module of a block drawn
    # for several), in the original order.
    by_id = {node.id: node for node in original.nodes}
    assert all(
        node._replace(count=was.count, name=was.name, module=was.module) == was
        for node in folded.nodes
        for was in [by_id[node.id]]
    )
    order = {node.id: i for i, node in enumerate(original.nodes)}
    assert [order[n.id] for n in folded.nodes] == sorted(order[n.id] for n in folded.nodes)
    # Every node still leads to a root.
    consumers: dict[str, list[str]] = {}
    for e in folded.edges:
        consumers.setdefault(e.src, []).append(e.dst)
    reach = set(folded.roots)
    stack = list(folded.roots)
    producers: dict[str, list[str]] = {}
    for e in folded.edges:
        producers.setdefault(e.dst, []).append(e.src)
    while stack:
        for s in producers.get(stack.pop(), ()):
            if s not in reach:
                reach.add(s)
                stack.append(s)
    assert reach == ids


# --- runs of one op ------------------------------------------------------------------------------


def test_chain_of_1000_muls_is_one_node() -> None:
    g = chain(1000)
    f = fold_chains(g)
    check(g, f)
    assert [(n.id, n.count) for n in f.nodes] == [("n0", 1000), ("n1000", 1)]
    assert f.edges == (Edge("n1000", "n0", 0),)
    assert title(f.nodes[0]) == "MulBackward0 ×1000"
    assert title(f.nodes[1]) == "x"


def test_chain_from_torch_folds_its_constants_too() -> None:
    x = torch.randn(3, requires_grad=True)
    y = x
    for _ in range(1000):
        y = y * 2
    g = build_graph(y, show_inputs=True)
    assert len(g.nodes) == 2001
    f = fold_chains(g)
    check(g, f)
    assert sorted((n.kind, n.op, n.count) for n in f.nodes if n.kind != "leaf") == [
        ("input", None, 1000),
        ("op", "MulBackward0", 1000),
    ]
    assert len(f.nodes) == 3 and len(f.edges) == 2


def test_chain_of_100k_folds_without_recursion() -> None:
    g = chain(100_000)
    f = fold(g)
    assert [(n.id, n.count) for n in f.nodes] == [("n0", 100_000), ("n100000", 1)]
    assert f.notes == (
        "folded 99,999 nodes: runs of the same op drawn once with ×N; "
        "pass --max-nodes 0 to draw every node",
    )


def test_chain_breaks_at_other_ops_shared_nodes_and_pinned_nodes() -> None:
    # n0..n3 Mul, n4 Add, n5..n7 Mul, leaf n8; n6 also feeds the root n0 directly.
    nodes = [op(f"n{i}", "AddBackward0" if i == 4 else "MulBackward0") for i in range(8)]
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(8)] + [Edge("n6", "n0", 1)]
    g = Graph((*nodes, leaf("n8")), tuple(edges), ("n0",), first_nonfinite="n2")
    f = fold_chains(g)
    check(g, f)
    # n0 has two main inputs, n2 is pinned (it may end a run, not be folded), n4 is another
    # op, n6 has two consumers: only n3 (into n2) and n7 (into n6) fold.
    assert {n.id: n.count for n in f.nodes} == {
        "n0": 1,
        "n1": 1,
        "n2": 2,
        "n4": 1,
        "n5": 1,
        "n6": 2,
        "n8": 1,
    }
    assert set(f.edges) == {
        Edge("n1", "n0", 0),
        Edge("n6", "n0", 1),
        Edge("n2", "n1", 0),
        Edge("n4", "n2", 0),
        Edge("n5", "n4", 0),
        Edge("n6", "n5", 0),
        Edge("n8", "n6", 0),
    }


def test_chain_keeps_the_grad_nearest_to_the_root() -> None:
    from graphviz_autograd.model import TensorStats

    stats = TensorStats((3,), 1.0, 0.0, 1.0, 0.5, 0, 0)
    g = chain(5)
    g = g.replace(nodes=tuple(n._replace(grad=stats) if n.id == "n0" else n for n in g.nodes))
    f = fold_chains(g)
    assert f.nodes[0].id == "n0" and f.nodes[0].grad == stats and f.nodes[0].count == 5


def test_nothing_to_fold_returns_the_same_graph() -> None:
    g = chain(6, ("MulBackward0", "AddBackward0"))
    assert fold_chains(g) is g
    assert fold_repeats(g) is g


# --- identical branches --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide() -> Graph:
    """10,000 leaves, each times 2, stacked and summed (20,002 nodes)."""
    leaves = [torch.randn(2, requires_grad=True) for _ in range(10_000)]
    params = {f"w{i}": t for i, t in enumerate(leaves)}
    return build_graph(torch.stack([w * 2 for w in leaves]).sum(), params=params)


def test_10k_parallel_branches_fold_to_one(wide: Graph) -> None:
    assert len(wide.nodes) == 20_002
    f = fold(wide)
    check(wide, f)
    assert len(f.nodes) <= DEFAULT_MAX_NODES
    assert [(n.op, n.count) for n in f.nodes] == [
        ("SumBackward0", 1),
        ("StackBackward0", 1),
        ("MulBackward0", 10_000),
        ("AccumulateGrad", 10_000),
    ]
    assert f.nodes[3].name == "w0"  # the first branch stands for all of them
    assert title(f.nodes[2]) == "MulBackward0 ×10000"
    assert f.notes == (
        "folded 19,998 nodes: identical branches drawn once with ×N; "
        "pass --max-nodes 0 to draw every node",
    )


def test_shared_inputs_of_identical_branches_are_kept_once() -> None:
    w = torch.randn(2, requires_grad=True)
    xs = [torch.randn(2, requires_grad=True) for _ in range(50)]
    g = build_graph(torch.stack([x * w for x in xs]).sum(), params={"w": w})
    f = fold_repeats(g)
    check(g, f)
    counts = {(n.op, n.name): n.count for n in f.nodes}
    assert counts == {
        ("SumBackward0", None): 1,
        ("StackBackward0", None): 1,
        ("MulBackward0", None): 50,
        ("AccumulateGrad", None): 50,
        ("AccumulateGrad", "w"): 1,
    }


def test_different_branches_do_not_fold() -> None:
    xs = [torch.randn(2 + i % 2, requires_grad=True) for i in range(10)]
    g = build_graph(torch.cat([x * 2 for x in xs]).sum())
    f = fold_repeats(g)
    check(g, f)
    assert sorted(n.count for n in f.nodes if n.op == "MulBackward0") == [5, 5]


def test_nested_repeats_multiply() -> None:
    rows = [[torch.randn(2, requires_grad=True) for _ in range(4)] for _ in range(3)]
    g = build_graph(torch.stack([torch.stack([x.exp() for x in row]) for row in rows]).sum())
    f = fold_repeats(g)
    check(g, f)
    assert [(n.op, n.count) for n in f.nodes] == [
        ("SumBackward0", 1),
        ("StackBackward0", 1),
        ("StackBackward0", 3),
        ("ExpBackward0", 12),
        ("AccumulateGrad", 12),
    ]


# --- identical blocks in series ------------------------------------------------------------------


def test_transformer_layers_fold_to_one() -> None:
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    enc = torch.nn.TransformerEncoder(layer, 6, enable_nested_tensor=False)
    g = build_graph(enc(torch.randn(2, 3, 16)).sum(), params=dict(enc.named_parameters()))
    f = fold_series(g)
    check(g, f)
    assert len(f.nodes) < len(g.nodes) / 2
    # The first layer (fed by a tensor outside the graph) differs; layers 2-6 fold into one.
    assert set(Counter(n.count for n in f.nodes)) == {1, 5}
    # The block drawn (layer 5, nearest the root) is named for the five it stands for.
    names = {n.name for n in f.nodes if n.count == 5 and n.name}
    assert names and all(name.startswith("layers.1–5.") for name in names), names
    assert {n.name for n in f.nodes if n.count == 1 and n.name} == {
        n.name for n in g.nodes if n.name and n.name.startswith("layers.0.")
    }
    assert fold_series(f) is f


def test_a_folded_layer_is_named_for_every_layer_it_stands_for_in_pictures_too() -> None:
    """Under `gradviz run` ops carry modules: the box of the layer drawn says
    ``blocks.1–5`` (the list's numbers), its parameters ``blocks.1–5.0.weight``;
    a loop that calls one module at each step keeps that module's name."""
    from graphviz_autograd import capture

    torch.manual_seed(0)
    blocks = torch.nn.ModuleList(
        torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh()) for _ in range(6)
    )
    cell = torch.nn.Linear(8, 8)
    with capture(modules=True) as cap:
        x = torch.randn(4, 8)
        for block in blocks:
            x = x + block(x)
        for _ in range(6):
            x = cell(x).tanh()
        x.sum().backward()
    f = fold_series(cap.graph)
    check(cap.graph, f)
    layered = {n.module for n in f.nodes if n.count == 5 and n.module and "blocks" in n.module}
    assert layered == {"blocks.1–5.0", "blocks.1–5.1"}, layered
    params = {n.name for n in f.nodes if n.count == 5 and n.kind == "leaf"}
    assert params == {"blocks.1–5.0.weight", "blocks.1–5.0.bias"}
    assert {n.module for n in f.nodes if n.module and "cell" in n.module} == {"cell"}
    boxes = re.findall(r"subgraph cluster_m\d+ \{ label=(\S+)", to_dot(f))
    assert boxes == ['"blocks"', '"0"', '"0"', '"1"', '"1–5"', '"0"', '"1"', '"cell"'], boxes


def test_unrolled_loop_with_shared_weights_folds() -> None:
    g = rnn(1000)
    f = fold(g, max_nodes=100)
    check(g, f)
    counts = {n.id: n.count for n in f.nodes}
    assert counts["W"] == 1 and counts["b"] == 1
    assert max(counts.values()) >= 998
    assert len(f.nodes) <= 12
    assert "identical blocks in series" in f.notes[0]


def sequence_rnn(steps: int) -> Graph:
    """An RNN layer as PyTorch's CPU kernels build it: the input projection of every step made
    at once and sliced by one ``unbind`` (read by every step), each step's output ``stack``ed
    (fed by every step), the weight shared: no step is closed until both are set apart."""
    nodes = [
        op("out", "StackBackward0"),
        op("u", "UnbindBackward0"),
        op("proj", "MmBackward0"),
        leaf("Wi", "Wi", (3, 3)),
        leaf("W", "W", (3, 3)),
    ]
    edges = [Edge("proj", "u", 0), Edge("Wi", "proj", 0)]
    for s in range(steps):
        nodes += [op(f"t{s}", "TanhBackward0"), op(f"a{s}", "AddBackward0")]
        edges += [Edge(f"t{s}", "out", s), Edge(f"a{s}", f"t{s}", 0), Edge("u", f"a{s}", 0)]
        if s:  # h[s] = tanh(u[s] + h[s - 1] @ W)
            nodes.append(op(f"m{s}", "MmBackward0"))
            edges += [Edge(f"m{s}", f"a{s}", 1), Edge(f"t{s - 1}", f"m{s}", 0)]
            edges.append(Edge("W", f"m{s}", 1))
    return Graph(tuple(nodes), tuple(edges), ("out",))


def test_loop_over_a_sequence_folds_with_its_unbind_and_stack_set_apart() -> None:
    g = sequence_rnn(200)
    assert fold_series(g) is not g
    f = fold(g, max_nodes=50)
    check(g, f)
    assert len(f.nodes) <= 12
    counts = {n.id: n.count for n in f.nodes}
    assert counts["u"] == counts["out"] == counts["W"] == 1  # set apart, not folded
    assert counts["t199"] == 199  # the step nearest the root stands for steps 1..199
    assert "identical blocks in series" in f.notes[0]


def test_layout_size_counts_the_ranks_long_edges_cross() -> None:
    assert layout_size(chain(100)) == 101  # no edge skips a rank
    # sequence_rnn(k): the unbind and the weight feed every step, every step feeds the stack.
    g = sequence_rnn(40)
    assert layout_size(g) > 10 * len(g)
    assert fits(g, len(g)) is False
    assert fits(g, layout_size(g) // LAYOUT_SIZE_PER_NODE + 1) is True


def test_a_real_gru_folds_under_the_default_budget() -> None:
    # 1,421 nodes, under the node budget, but its long edges made `dot` run for over 10 minutes.
    torch.manual_seed(0)
    gru = torch.nn.GRU(input_size=16, hidden_size=32, num_layers=2)
    out, _ = gru(torch.randn(50, 4, 16))
    g = build_graph(out.pow(2).mean(), params=dict(gru.named_parameters()))
    assert len(g) <= DEFAULT_MAX_NODES and not fits(g, DEFAULT_MAX_NODES)
    f = fold(g)
    check(g, f)
    assert fits(f, DEFAULT_MAX_NODES) and len(f) < 100
    assert max(n.count for n in f.nodes) >= 48  # one step drawn for 49


def test_alternating_ops_fold_with_period_two() -> None:
    g = chain(1001, ("MulBackward0", "AddBackward0"))
    f = fold_series(g)
    check(g, f)
    assert len(f.nodes) <= 5


def test_blocks_holding_a_pinned_node_do_not_fold() -> None:
    g = rnn(20)
    pinned = g.replace(first_nonfinite="a10")
    f = fold_series(pinned)
    check(pinned, f)
    assert "a10" in {n.id for n in f.nodes}


# --- fold() --------------------------------------------------------------------------------------


def test_max_nodes_0_and_small_graphs_are_unchanged() -> None:
    g = chain(5000)
    assert fold(g, max_nodes=0) is g
    assert fold(g, max_nodes=5001) is g
    small = chain(10)
    assert fold(small) is small


def test_negative_budget_is_an_error() -> None:
    with pytest.raises(GradvizError, match="max_nodes"):
        fold(chain(3), max_nodes=-1)


def test_fold_stops_as_soon_as_the_graph_fits() -> None:
    # Runs of one op alone bring 6,001 nodes under the budget: no other folding is tried.
    g = chain(6000)
    f = fold(g, max_nodes=10)
    assert len(f.nodes) == 2 and "runs of the same op" in f.notes[0]


def test_fold_says_when_the_graph_still_does_not_fit() -> None:
    rng = random.Random(1)
    ops = ("MulBackward0", "AddBackward0", "ExpBackward0")
    g = chain(300, tuple(rng.choice(ops) for _ in range(300)))
    f = fold(g, max_nodes=5)
    check(g, f)
    assert f.notes[-1].endswith("no more repeated structure to fold")
    assert len(f.nodes) > 5


def test_fold_is_deterministic(wide: Graph) -> None:
    g = rnn(300)
    assert fold(g, max_nodes=10) == fold(g, max_nodes=10)
    assert fold(wide) == fold(wide)


def _random_graph(seed: int) -> Graph:
    """Random motifs glued in series: chains, fans of identical branches, shared leaves."""
    rng = random.Random(seed)
    nodes: list[Node] = [op("n0", "SumBackward0")]
    edges: list[Edge] = []
    shared: list[str] = []
    top = "n0"

    def new(kind: str, name: str | None) -> str:
        node_id = f"n{len(nodes)}"
        nodes.append(op(node_id, name or "?") if kind == "op" else leaf(node_id))
        return node_id

    for _ in range(rng.randint(5, 25)):
        motif = rng.choice(("chain", "fan", "block", "block"))
        if motif == "chain":
            name = rng.choice(("MulBackward0", "ExpBackward0"))
            for _ in range(rng.randint(1, 30)):
                v = new("op", name)
                edges.append(Edge(v, top, 0))
                top = v
        elif motif == "fan":
            v = new("op", "StackBackward0")
            edges.append(Edge(v, top, 0))
            width = rng.randint(1, 20)
            for slot in range(width):
                b = new("op", rng.choice(("MulBackward0", "MulBackward0", "ExpBackward0")))
                edges.append(Edge(b, v, slot))
                edges.append(Edge(new("leaf", None), b, 0))
            top = v
        else:
            for _ in range(rng.randint(1, 10)):
                a = new("op", "AddBackward0")
                m = new("op", "MmBackward0")
                edges += [Edge(a, top, 0), Edge(m, a, 0)]
                if rng.random() < 0.5 or not shared:
                    shared.append(new("leaf", None))
                edges.append(Edge(shared[-1], m, 1))
                edges.append(Edge(new("leaf", None), a, 1))
                top = m
    edges.append(Edge(new("leaf", None), top, 0))
    return Graph(tuple(nodes), tuple(edges), ("n0",))


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_keep_the_invariants(seed: int) -> None:
    g = _random_graph(seed)
    for step in (fold_chains, fold_repeats, fold_series):
        check(g, step(g))
    f = fold(g, max_nodes=1)
    check(g, f)
    assert f == fold(g, max_nodes=1)


# --- drawing -------------------------------------------------------------------------------------


def test_dot_draws_counts_and_notes_escaped() -> None:
    f = fold(chain(3000))
    text = to_dot(f)
    assert '"MulBackward0 ×3000' in text
    assert "folded 2,999 nodes: runs of the same op drawn once with ×N" in text
    weird = f.replace(notes=('<b>&"x"</b>',))
    assert "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in to_dot(weird)
    assert 'label="<b>&amp;\\"x\\"</b>"' in to_dot(weird, legend=False)
    assert to_dot(chain(3)).count("label=<") == 1  # no notes: the legend alone, as before


def test_json_keeps_counts_and_notes() -> None:
    text = to_json(fold(chain(3000)))
    assert '"count": 3000' in text and "--max-nodes 0" in text


@pytest.mark.dot
def test_folded_graph_renders(wide: Graph) -> None:
    svg = to_svg(fold(wide))
    assert "MulBackward0 ×10000" in svg and "folded 19,998 nodes" in svg


def test_a_walked_graph_that_fits_is_drawn_as_walked() -> None:
    from graphviz_autograd import build_graph

    x = torch.ones(3, requires_grad=True)
    y = x
    for _ in range(20):
        y = (y * 2).sin()
    graph = build_graph(y.sum(), params={"x": x})
    dot = to_dot(graph)
    assert graph.numbered  # still in the walk's compact form
    assert layout_size(graph) == len(graph) and fits(graph, DEFAULT_MAX_NODES)
    assert fold(graph) is graph and graph.numbered  # judged without making a record
    assert to_dot(graph) == dot
    assert layout_size(graph.replace(notes=("records",))) == len(graph)


def test_fold_fitting_says_whether_what_it_returns_fits() -> None:
    from graphviz_autograd.transform.fold import fold_fitting

    cases = [
        (chain(1000), 50),  # folds to one node: fits
        (chain(30, tuple(f"Op{i}Backward0" for i in range(30))), 10),  # nothing folds
        (rnn(40), 30),
        (chain(20), 0),  # never folded: fits by definition
        (chain(20), 100),  # fits as it is
    ]
    for graph, budget in cases:
        folded, fitting = fold_fitting(graph, max_nodes=budget)
        assert folded == fold(graph, max_nodes=budget)
        assert fitting == (budget == 0 or fits(folded, budget)), (len(graph), budget)
    assert [fold_fitting(g, max_nodes=b)[1] for g, b in cases] == [True, False, True, True, True]
