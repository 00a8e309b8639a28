"""Gradient flow: each layer's gradient norm at every step of a run (`flow`).

A layer is a module that holds parameters itself; its norm at a step is that of all its
parameters' gradients together (the square root of the sum of their squared norms), as the
parameters' ``.grad`` read after that backward call. Tensors outside any module (a plain ``w``)
are rows of their own; a parameter recorded without its module is placed by its name
(``model.0.weight`` in ``model.0``). With ``params``, every parameter is a row. Rows come in
forward order: the farther a row's parameters sit from the loss (the longest path from them
to it in the graph), the earlier; among rows as far, the reverse of the order a walk from the
loss met them. Pure and torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ..history import FIGURES, History
from ..model import Node
from .fold.adjacency import Adjacency

__all__ = ["Flow", "FlowRow", "flow"]

_NORM = FIGURES.index("norm")
_NONFINITE = FIGURES.index("nonfinite")


class FlowRow(NamedTuple):
    """One layer (or parameter) over the steps."""

    name: str
    """A module path (``model.h.0.attn.c_attn``) or a tensor's name."""
    kind: Literal["module", "param"]
    params: int
    """How many parameters the row sums over."""
    norms: tuple[float, ...]
    """Its gradient norm at each step; NaN where none of its parameters had a gradient, Inf
    where one had NaN or Inf entries."""


@dataclass(frozen=True, slots=True)
class Flow:
    """The rows of a run's gradient flow, and the steps they span."""

    steps: tuple[str, ...]
    """The calls' names, one per column of every row."""
    rows: tuple[FlowRow, ...]
    unkept: int = 0
    """Calls of the run left out (`History.unkept`)."""


def _row_name(node: Node, params: bool) -> tuple[str, Literal["module", "param"]] | None:
    if node.kind != "leaf":
        return None
    name = node.name or node.id
    module = node.module or (name.rpartition(".")[0] if "." in name else None)
    if params or not module:
        return name, "param"
    return module, "module"


def flow(history: History, *, params: bool = False) -> Flow:
    """``history``'s gradient flow, per layer (or per parameter, with ``params``)."""
    order: dict[str, tuple[Literal["module", "param"], set[str]]] = {}
    far: dict[str, int] = {}  # row -> the longest path from its parameters to the loss
    members: list[dict[int, str]] = []  # per graph: leaf index -> row name
    for graph in history.graphs:
        heights = Adjacency(graph).heights() or [0] * len(graph)
        leaves: dict[int, str] = {}
        for k, node in enumerate(graph.nodes):
            found = _row_name(node, params)
            if found is None:
                continue
            name, kind = found
            leaves[k] = name
            order.setdefault(name, (kind, set()))[1].add(node.name or node.id)
            far[name] = max(far.get(name, 0), heights[k])
        members.append(leaves)
    met = {name: k for k, name in enumerate(order)}
    names = sorted(order, key=lambda name: (-far[name], -met[name]))
    column = {name: c for c, name in enumerate(names)}
    table = [[math.nan] * len(history.steps) for _ in names]
    for s, step in enumerate(history.steps):
        sums = [0.0] * len(names)
        seen = [False] * len(names)
        for k, name in members[step.graph].items():
            figures = step.figures(k)
            c = column[name]
            if figures[_NONFINITE] > 0:
                sums[c], seen[c] = math.inf, True
            elif not math.isnan(figures[_NORM]):
                sums[c] += figures[_NORM] ** 2
                seen[c] = True
        for c in range(len(names)):
            if seen[c]:
                table[c][s] = math.sqrt(sums[c])
    rows = tuple(
        FlowRow(name, order[name][0], len(order[name][1]), tuple(table[column[name]]))
        for name in names
    )
    return Flow(tuple(step.name for step in history.steps), rows, history.unkept)
