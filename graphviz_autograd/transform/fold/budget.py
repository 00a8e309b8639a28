"""The budget a picture must fit to lay out in seconds, how a graph is measured against it, and
`fold`, which applies the folding strategies in turn until the graph fits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

from ...errors import GradvizError
from ...model import Graph
from . import chains, repeats, series
from .adjacency import Adjacency

__all__ = [
    "DEFAULT_MAX_NODES",
    "LAYOUT_SIZE_PER_NODE",
    "Folded",
    "fits",
    "fold",
    "fold_fitting",
    "layout_size",
]

DEFAULT_MAX_NODES: Final = 1500
"""Graphs with more nodes than this are folded before layout (``--max-nodes``; 0: never fold).

Measured with Graphviz 2.43, ``dot -Tsvg`` on `to_dot` output, CPU time of ``dot`` on a busy
2-core x86-64 VM (wall time 1-2x that):

=========================================  =====  =====  =====  =====
nodes                                        500   1000   2000   4000
=========================================  =====  =====  =====  =====
chain                                       0.1 s  0.2 s  0.6 s  2.6 s
parallel ``leaf -> Mul`` branches, stacked  0.2 s  0.4 s  1.2 s  5.7 s
=========================================  =====  =====  =====  =====

``nn.TransformerEncoder`` graphs (tangled: residuals, attention): 910 nodes 0.8 s, 1,366 nodes
1.4 s, 1,518 nodes 0.8-1.3 s, 1,822 nodes 2.7 s, 2,050 nodes 2.8-4.1 s, 2,506 nodes 8 s, 3,646
nodes 22 s. Layout time grows much faster than linearly past ~1,800 nodes; 1,500 keeps every
shape measured to about 2 s, with room for denser real graphs. The node count alone misses
long edges: see `LAYOUT_SIZE_PER_NODE`.
"""

LAYOUT_SIZE_PER_NODE: Final = 2
"""A graph fits a budget of N nodes when it has at most N nodes and its `layout_size` is at most
this times N.

Every rank a ``dot`` edge crosses is a virtual node that crossing minimisation moves like a real
one, so long edges (a weight read at every step of a loop, a ``stack`` of every step's output)
cost what nodes do. Measured as for `DEFAULT_MAX_NODES`, ``nn.GRU`` (2 layers) unrolled over T
steps, one module cluster:

=====  =====  ===========  ==========
T      nodes  layout size  ``dot``
=====  =====  ===========  ==========
5        161       1,167     0.3 s
8        245       2,823     0.9 s
10       301       4,327     4.8 s
12       357       6,151    23.4 s
15       441       9,487    over 60 s
50     1,421     101,607    over 10 min
=====  =====  ===========  ==========

``nn.TransformerEncoder``, 20 layers: 1,519 nodes, layout size 2,525, 0.8 s with its 182
module clusters and 1.3 s without them (clusters did not slow ``dot`` down measurably).
"""


class Folded(NamedTuple):
    """What `fold_fitting` returns."""

    graph: Graph
    """The folded graph (the input itself when it fits, or nothing folds)."""
    fits: bool
    """Whether ``graph`` `fits` the budget."""


class _Strategy(NamedTuple):
    what: str
    """What it folds, for the note: "folded 120 nodes: runs of the same op drawn once"."""
    step: Callable[[Adjacency], Graph | None]
    """The folding; None when nothing folds."""


_STRATEGIES: Final = (
    _Strategy(what="runs of the same op", step=chains.step),
    _Strategy(what="identical branches", step=repeats.step),
    _Strategy(what="identical blocks in series", step=series.step),
)
"""In the order `fold` applies them."""


class _Measure(NamedTuple):
    fits: bool
    adj: Adjacency | None
    """The adjacency made to measure the graph (None when its node count alone says it does
    not fit), for a folding step to use."""


def fold(graph: Graph, *, max_nodes: int = DEFAULT_MAX_NODES, layout: bool = True) -> Graph:
    """``graph`` folded until it has at most ``max_nodes`` nodes, or as far as it folds; with
    ``layout`` (the default: a picture), until it `fits` a layout of that budget too.

    ``max_nodes == 0``, or a graph that already fits, returns ``graph`` itself. Otherwise
    `fold_chains`, `fold_repeats` and `fold_series` are applied in turn, stopping as soon as the
    graph fits, and again while one of them still folds something. A note (`Graph.notes`) says
    what was folded and how to see every node; another says so when the graph still does not fit.

    Raises:
        GradvizError: ``max_nodes`` is negative.
    """
    return fold_fitting(graph, max_nodes=max_nodes, layout=layout).graph


def fold_fitting(
    graph: Graph, *, max_nodes: int = DEFAULT_MAX_NODES, layout: bool = True
) -> Folded:
    """`fold`, and whether what it returns `fits` the budget (always, for ``max_nodes == 0``):
    known from the folding, so a caller need not measure the graph again. Without ``layout``
    (a terminal tree, which is not laid out), only the node count is measured."""
    if max_nodes < 0:
        raise GradvizError(f"max_nodes must be 0 (never fold) or positive, not {max_nodes}")
    if max_nodes == 0:
        return Folded(graph=graph, fits=True)
    measure = _measure(graph, max_nodes, layout)
    if measure.fits:
        return Folded(graph=graph, fits=True)
    fitting, adj = False, measure.adj
    current = graph
    done: list[str] = []
    while not fitting:
        before = len(current)
        for strategy in _STRATEGIES:
            if adj is None:
                adj = Adjacency(current)
            folded = strategy.step(adj)
            if folded is None:
                continue
            current = folded
            if strategy.what not in done:
                done.append(strategy.what)
            measure = _measure(current, max_nodes, layout)
            fitting, adj = measure.fits, measure.adj  # the adjacency serves the next step
            if fitting:
                break
        if len(current) == before:
            break
    too_big = (
        "more than lay out in a few seconds" if layout else f"more than the {max_nodes:,} asked for"
    )
    notes = (*graph.notes, *_notes(graph, current, done, too_big if not fitting else ""))
    return Folded(graph=current.replace(notes=notes), fits=fitting)


def _notes(graph: Graph, folded: Graph, done: list[str], too_big: str) -> tuple[str, ...]:
    """What folding ``graph`` into ``folded`` did (``done``: the strategies that folded), and
    why it is still too big (``too_big``; empty when it fits)."""
    notes: list[str] = []
    removed = len(graph) - len(folded)
    if removed:
        kinds = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
        notes.append(
            f"folded {removed:,} nodes: {kinds} drawn once with ×N; "
            "pass --max-nodes 0 to draw every node"
        )
    if too_big:
        notes.append(
            f"{len(folded):,} nodes{' remain' if removed else ''} with "
            f"{folded.edge_count:,} edges, {too_big}: no more repeated structure to fold"
        )
    return tuple(notes)


def layout_size(graph: Graph) -> int:
    """An estimate of what ``dot`` lays out: the nodes, plus one virtual node for every rank
    that an edge crosses.

    Ranks are counted from the roots (each node one rank above its lowest consumer: where
    ``dot`` puts a leaf read by many), so an edge from rank r to rank s > r + 1 adds s - r - 1.
    Linear in the size of the graph.
    """
    return _layout_size(Adjacency(graph))


def _layout_size(adj: Adjacency) -> int:
    """`layout_size` of the graph of ``adj``."""
    height = adj.heights()
    if height is None:  # a cycle: not an autograd graph; count the nodes only
        return adj.n
    crossed: int = sum(height[s] - height[d] - 1 for s, d in zip(adj.src, adj.dst, strict=True))
    return adj.n + crossed


def fits(graph: Graph, max_nodes: int) -> bool:
    """Whether ``graph`` lays out in a few seconds under a budget of ``max_nodes`` nodes: at most
    that many nodes, and a `layout_size` of at most `LAYOUT_SIZE_PER_NODE` times as many."""
    return _measure(graph, max_nodes).fits


def _measure(graph: Graph, max_nodes: int, layout: bool = True) -> _Measure:
    """`fits` (without ``layout``: the node count alone), and the adjacency made to measure the
    graph, for a folding step to use."""
    if len(graph) > max_nodes:
        return _Measure(fits=False, adj=None)
    if not layout:
        return _Measure(fits=True, adj=None)
    adj = Adjacency(graph)
    return _Measure(fits=_layout_size(adj) <= LAYOUT_SIZE_PER_NODE * max_nodes, adj=adj)
