"""The parts folding is made of, tested alone: periodic runs, the integer arrays, the blocks."""

from __future__ import annotations

import pytest

from graphviz_autograd.model import Edge, Graph, Node
from graphviz_autograd.transform.fold import Folded, fold, fold_fitting
from graphviz_autograd.transform.fold.adjacency import Adjacency, rebuild
from graphviz_autograd.transform.fold.blocks import find_blocks
from graphviz_autograd.transform.fold.periods import Run, periodic_runs


def line(n: int) -> Graph:
    """``n`` ``MulBackward0`` and ``AddBackward0`` in turn, ``n0`` the root, fed by a leaf."""
    ops = ("MulBackward0", "AddBackward0")
    nodes = [Node(id=f"n{i}", kind="op", op=ops[i % 2]) for i in range(n)]
    nodes.append(Node(id=f"n{n}", kind="leaf", op="AccumulateGrad", is_leaf=True))
    edges = [Edge(f"n{i + 1}", f"n{i}", 0) for i in range(n)]
    return Graph(tuple(nodes), tuple(edges), ("n0",))


@pytest.mark.parametrize(
    ("seq", "max_period", "runs"),
    [
        ([7, 7, 7, 7, 9], 16, [Run(start=0, period=1, repeats=4)]),
        ([1, 2, 1, 2, 1, 2, 3], 16, [Run(start=0, period=2, repeats=3)]),
        ([1, 2, 1, 2, 1, 2, 3], 1, []),
        (
            [5, 5, 1, 2, 1, 2, 1, 2, 0],
            16,
            [Run(start=0, period=1, repeats=2), Run(start=2, period=2, repeats=3)],
        ),
        ([4, 4], 16, []),  # the last item is the bottom of a path: never in a run
        ([1, 2, 3, 4], 16, []),
        (  # smallest periods first: the repeats of period 3 wait for a second pass
            [1, 1, 2, 1, 1, 2, 1, 1, 2, 0],
            16,
            [Run(0, 1, 2), Run(3, 1, 2), Run(6, 1, 2)],
        ),
    ],
    ids=["period-1", "period-2", "period-too-long", "two-runs", "bottom", "none", "nested"],
)
def test_periodic_runs(seq: list[int], max_period: int, runs: list[Run]) -> None:
    assert periodic_runs(seq, max_period) == runs


def test_adjacency_keeps_edges_in_edge_order() -> None:
    g = Graph(
        (Node("a", "op"), Node("b", "leaf"), Node("c", "leaf")),
        (Edge("c", "a", 0), Edge("b", "a", 1)),
        ("a",),
    )
    adj = Adjacency(g)
    assert adj.ins(0) == [0, 1]
    assert [adj.src[e] for e in adj.ins(0)] == [2, 1]
    assert adj.out_deg == [0, 1, 1]
    assert adj.pinned == {0}
    assert adj.topological() == [1, 2, 0]


def test_adjacency_topological_is_none_on_a_cycle() -> None:
    g = Graph((Node("a", "op"), Node("b", "op")), (Edge("a", "b"), Edge("b", "a")), ("a",))
    assert Adjacency(g).topological() is None


def test_rebuild_drops_dead_nodes_and_moves_edges() -> None:
    g = line(3)  # n3 -> n2 -> n1 -> n0
    adj = Adjacency(g)
    dead = bytearray(b"\x00\x01\x00\x00")  # n1 folds into n0: what fed n1 now feeds n0
    folded = rebuild(adj, dead, [2, 1, 1, 1], dst_map={1: 0})
    assert [n.id for n in folded.nodes] == ["n0", "n2", "n3"]
    assert [n.count for n in folded.nodes] == [2, 1, 1]
    assert folded.edges == (Edge("n2", "n0", 0), Edge("n3", "n2", 0))
    assert folded.edges[1] is g.edges[2]  # an edge that did not move is kept as it is


def test_blocks_of_a_line_of_two_ops() -> None:
    g = line(9)
    adj = Adjacency(g)
    order = adj.topological()
    assert order is not None
    blocks = find_blocks(adj, order, 0)
    assert blocks is not None
    assert blocks.paths == [list(range(10))]  # each node of a plain chain is closed
    assert list(blocks.between(0, 2)) == [1, 0]


def test_fold_fitting_names_its_fields() -> None:
    g = line(40)
    folded = fold_fitting(g, max_nodes=5)
    assert isinstance(folded, Folded)
    assert folded == (folded.graph, folded.fits)
    assert folded.graph == fold(g, max_nodes=5)
