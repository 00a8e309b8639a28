"""The data model: frozen records, lookups, value equality. No torch here."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest

from graphviz_autograd import model, records
from graphviz_autograd.model import Columns, Edge, Graph, Node, SavedEdge, TensorStats


def diamond() -> Graph:
    """loss = sin(x) + cos(x): x feeds two ops that meet again."""
    return Graph(
        nodes=(
            Node("n0", "op", op="AddBackward0", shape=(), dtype="float32"),
            Node("n1", "op", op="SinBackward0", shape=(), dtype="float32"),
            Node("n2", "leaf", op="AccumulateGrad", name="x", is_leaf=True, shape=()),
            Node("n3", "op", op="CosBackward0", shape=(), dtype="float32"),
        ),
        edges=(
            Edge("n1", "n0", 0),
            Edge("n2", "n1", 0),
            Edge("n3", "n0", 1),
            Edge("n2", "n3", 0),
        ),
        roots=("n0",),
    )


@pytest.mark.parametrize(
    ("obj", "attr", "value"),
    [
        (Node("n0", "op"), "name", "w"),
        (Edge("n0", "n1", 0), "slot", 1),
        (TensorStats((1,), 1.0, 1.0, 1.0, 1.0, 0, 0), "norm", 2.0),
        (diamond(), "roots", ("n1",)),
    ],
    ids=["node", "edge", "stats", "graph"],
)
def test_records_are_frozen(obj: object, attr: str, value: object) -> None:
    with pytest.raises(AttributeError):  # FrozenInstanceError is one
        setattr(obj, attr, value)


def test_node_defaults() -> None:
    node = Node("n0", "op", op="MulBackward0")
    assert (node.is_leaf, node.requires_grad, node.retains_grad, node.freed) == (
        False,
        True,
        False,
        False,
    )
    assert (node.shape, node.dtype, node.grad, node.attrs) == (None, None, None, ())


def test_graph_node_looks_up_by_id() -> None:
    graph = diamond()
    assert graph.node("n3").op == "CosBackward0"
    assert graph.node("n2").name == "x"
    with pytest.raises(KeyError):
        graph.node("n4")


def test_graph_inputs_and_outputs() -> None:
    graph = diamond()
    assert graph.inputs("n0") == (Edge("n1", "n0", 0), Edge("n3", "n0", 1))
    assert graph.outputs("n2") == (Edge("n2", "n1", 0), Edge("n2", "n3", 0))
    assert graph.inputs("n2") == ()
    assert graph.outputs("n0") == ()


def test_graphs_compare_by_value() -> None:
    assert diamond() == diamond()
    assert hash(diamond()) == hash(diamond())
    other = diamond().replace(roots=("n1",))
    assert other != diamond()
    renamed = Graph(
        tuple(n._replace(name="y") if n.id == "n2" else n for n in diamond().nodes),
        diamond().edges,
        diamond().roots,
    )
    assert renamed != diamond()


def test_replace_keeps_lookup_working() -> None:
    graph = diamond().replace(nodes=diamond().nodes[:2])
    assert graph.node("n1").op == "SinBackward0"
    with pytest.raises(KeyError):
        graph.node("n3")


@pytest.mark.parametrize("module", [model, records], ids=["model", "records"])
def test_model_imports_no_torch_graphviz_or_rich(module: ModuleType) -> None:
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    own = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level}
    assert own <= {"records"}  # the model's own modules: no other part of gradviz
    imported = {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    imported |= {
        n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level
    }
    assert imported, "the parse found no imports at all"
    assert {m.split(".")[0] for m in imported} <= {
        "__future__",
        "collections",
        "dataclasses",
        "gc",
        "itertools",
        "operator",
        "typing",
    }


def test_node_field_order_is_pinned() -> None:
    # The walk and the capture build nodes as positional tuples in this order.
    assert Node._fields == (
        "id",
        "kind",
        "op",
        "name",
        "is_leaf",
        "requires_grad",
        "retains_grad",
        "shape",
        "dtype",
        "grad",
        "attrs",
        "freed",
        "grads",
        "order",
        "count",
        "source",
        "saved",
        "module",
        "grad_returned",
    )
    assert Node("n0", "op") == Node._make(("n0", "op", *Node._field_defaults.values()))


def columns_of(graph: Graph) -> Columns:
    """``graph`` (ids n0, n1, ... in node order) in the compact form a walk makes."""
    index = {node.id: i for i, node in enumerate(graph.nodes)}
    data = [e for e in graph.edges if e.kind == "data"]
    return Columns(
        [node._replace(id="") for node in graph.nodes],
        [index[e.src] for e in data],
        [index[e.dst] for e in data],
        [e.slot or 0 for e in data],
        [SavedEdge(index[e.src], index[e.dst]) for e in graph.edges if e.kind == "saved"],
    )


def test_a_graph_kept_as_columns_equals_its_twin_made_of_records() -> None:
    import pickle

    compact = Graph.from_columns(columns_of(diamond()), diamond().roots)
    assert len(compact) == 4 and compact._columns is not None
    ids, blank = compact.rows()
    assert ids == ["n0", "n1", "n2", "n3"]
    assert [row._replace(id=node_id) for node_id, row in zip(ids, blank, strict=True)] == list(
        diamond().nodes
    )
    assert list(compact.edge_rows()) == list(diamond().edges)
    for name in ("id", "kind", "name", "grad"):
        assert list(compact.column(name)) == list(diamond().column(name))
        assert list(diamond().column(name)) == [getattr(n, name) for n in diamond().nodes]
    assert compact._columns is not None  # rows and columns make no records
    assert compact == diamond() and hash(compact) == hash(diamond())
    assert compact._columns is None  # records, made once, and the columns dropped
    assert compact.node("n2") == diamond().node("n2")
    assert pickle.loads(pickle.dumps(compact)) == diamond()
    ids, blank = diamond().rows()  # a graph of records has rows too
    assert ids == ["n0", "n1", "n2", "n3"]
    assert list(blank) == [node._replace(id="") for node in diamond().nodes]
    assert all(type(node) is Node for node in diamond().rows()[1])


def test_a_walked_graph_numbers_its_nodes_from_n0_at_any_size() -> None:
    row = diamond().nodes[0]._replace(id="")
    for n in (3, 5000, 4096, 4097, 1, 0):  # ids up to 4,096 are made once and shared
        graph = Graph.from_columns(Columns([row] * n, [], [], [], []), ())
        ids, _ = graph.rows()
        assert ids == [f"n{i}" for i in range(n)]
        ids.append("x")  # a graph's list is its own
        assert list(graph.column("id")) == [f"n{i}" for i in range(n)] + ["x"]
        assert Graph.from_columns(Columns([row] * n, [], [], [], []), ()).rows()[0] == [
            f"n{i}" for i in range(n)
        ]


def test_edge_count_counts_data_and_saved_edges_without_making_records() -> None:
    graph = diamond().replace(
        nodes=(*diamond().nodes, Node("n4", "saved", name="self", shape=(), dtype="float32")),
        edges=(*diamond().edges, Edge("n4", "n1", None, "saved")),
    )
    compact = Graph.from_columns(columns_of(graph), graph.roots)
    assert compact.edge_count == graph.edge_count == 5
    assert compact._columns is not None  # counted from the columns
    assert len(compact.edges) == 5 and compact.edge_count == 5


def test_graph_is_immutable_and_replace_checks_names() -> None:
    graph = diamond()
    with pytest.raises(AttributeError, match="immutable"):
        graph.roots = ("n1",)  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field 'rots'"):
        graph.replace(rots=("n1",))
    assert graph.replace(notes=("x",)).notes == ("x",) and graph.notes == ()


def test_most_inputs_counts_the_edges_into_one_node_in_records_and_in_a_walk() -> None:
    import torch

    from graphviz_autograd import build_graph

    nodes = tuple(Node(f"n{i}", "op", op="X") for i in range(4))
    edges = (Edge("n1", "n0", 0), Edge("n2", "n0", 1), Edge("n3", "n0", 2), Edge("n3", "n1", 0))
    assert Graph(nodes, edges, ("n0",)).most_inputs() == 3
    assert Graph(nodes[:1], (), ("n0",)).most_inputs() == 0
    xs = [torch.ones(1, requires_grad=True) for _ in range(6)]
    walked = build_graph(torch.cat([x * 2 for x in xs]).sum())
    assert walked.most_inputs() == 6  # CatBackward0's six inputs, read from the walk's columns
    assert walked.replace(notes=("records",)).most_inputs() == 6


def test_fans_in_counts_data_and_saved_edges_into_one_node() -> None:
    import torch

    from graphviz_autograd import build_graph

    xs = [torch.ones(1, requires_grad=True) for _ in range(6)]
    walked = build_graph(torch.cat([x * 2 for x in xs]).sum())
    assert walked.fans_in(6) and not walked.fans_in(7)
    assert walked.replace(notes=("records",)).fans_in(6)
    # Five input slots, one of them an edge: the slots bound the count, the edges decide.
    x = torch.ones(1, requires_grad=True)
    constants = [torch.ones(1) for _ in range(4)]
    sparse = build_graph(torch.cat([*constants, x * 2]).sum())
    assert max(sparse._columns.slots) == 4  # type: ignore[union-attr]
    assert sparse.fans_in(1) and not sparse.fans_in(2)
    # Two data inputs and two saved tensors: four edges into MulBackward0, from two slots.
    a, b = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    saved = build_graph((a * b).sum(), show_saved=True)
    assert saved.fans_in(4) and not saved.fans_in(5)
