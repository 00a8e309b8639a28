"""Fold a large `Graph` into a small one that reads the same, before layout.

Graphviz layout, not the walk, is what limits the size of a picture: ``dot`` needs seconds for a
couple of thousand nodes and minutes for tens of thousands. Folding draws repeated structure once,
with a count (``MulBackward0 ×100000``), so any graph lays out in seconds. It is a transformation
of the torch-free model: renderers draw whatever `Graph` they are given.

Three foldings, each a pure function `Graph` -> `Graph`:

- `fold_chains`: a linear run of one op (``x = x * 2`` in a loop) becomes one node.
- `fold_repeats`: identical branches feeding one consumer (10,000 ``leaf -> MulBackward0``
  branches stacked together) become one branch.
- `fold_series`: identical blocks in series (the layers of a transformer, the body of an unrolled
  loop) become one block.

`fold` applies them, in that order, until the graph fits a budget (`DEFAULT_MAX_NODES` nodes, and
a `layout_size` that counts long edges too: `LAYOUT_SIZE_PER_NODE`).

Invariants of every folding:

- The sum of `Node.count` over the nodes equals that of the input graph (so for a graph fresh
  from the walk, where every count is 1, it is the number of nodes of the full graph): a kept node
  stands for itself and for every node folded into it.
- Ids are those of kept nodes, in their original order; roots and ``first_nonfinite`` are
  always kept and never folded into another node; every edge joins two kept nodes, and every
  kept node still leads to a root. Edges carry no count: a folded node's edges stand for those
  of all its copies.
- A kept node keeps its own fields (name, shape, ``grad``, ``order``...) except ``count``: in a run
  or a series of blocks the kept node is the one nearest to the root (its gradient is the one
  that flows into the run); of identical branches it is the first, in edge order. The other
  nodes' names and gradients are not shown.
- Same input, same output; everything is iterative (no recursion) and about linear in the size of
  the graph, so a graph of a million nodes folds in seconds.

Where things are: `budget` (the budget, `fits`, `fold`), one module per strategy (`chains`,
`repeats`, `series`, with `blocks`, `signatures` and `periods` for the blocks in series), and
`adjacency`, the integer arrays every strategy reads and the rebuild they share.
"""

from __future__ import annotations

from .budget import (
    DEFAULT_MAX_NODES,
    LAYOUT_SIZE_PER_NODE,
    Folded,
    fits,
    fold,
    fold_fitting,
    layout_size,
)
from .chains import fold_chains
from .repeats import fold_repeats
from .series import MAX_PERIOD, fold_series

__all__ = [
    "DEFAULT_MAX_NODES",
    "LAYOUT_SIZE_PER_NODE",
    "MAX_PERIOD",
    "Folded",
    "fits",
    "fold",
    "fold_chains",
    "fold_fitting",
    "fold_repeats",
    "fold_series",
    "layout_size",
]
