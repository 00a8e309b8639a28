"""A run over time: every recorded backward call as a few figures per node, on few graphs.

A training loop makes the same graph at every step: `History` keeps the graph of each distinct
structure once (at most `MAX_GRAPHS`), and for every call only its gradients' figures, packed as
float32 (`FIGURES` per node, one per edge), so that 10,000 steps of a model of a few hundred
nodes hold tens of megabytes, not 10,000 graphs. Torch-free, like the graph model.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .model import Graph, TensorStats

__all__ = ["FIGURES", "MAX_GRAPHS", "History", "Step", "structure_key"]

FIGURES: Final = ("norm", "min", "max", "mean", "nonfinite")
"""What a step keeps of a node's gradient, in this order: `TensorStats`' norm, min, max and
mean, and its NaN and Inf entries counted together; NaN where the node had no gradient."""

MAX_GRAPHS: Final = 8
"""Distinct graph structures kept; a call of a ninth is counted (`History.unkept`), not kept."""

_NONE: Final = (math.nan,) * len(FIGURES)


def _figures(stats: TensorStats | None) -> tuple[float, ...]:
    if stats is None:
        return _NONE
    return (
        *(math.nan if v is None else v for v in (stats.norm, stats.min, stats.max, stats.mean)),
        float(stats.nan + stats.inf),
    )


def structure_key(graph: Graph) -> tuple[object, ...]:
    """What two calls share when their graphs are the same but for shapes and values: each
    node's kind, op and name, and the edges, in walk order. Not modules nor source lines: a
    recording stops tagging those once the run repeats itself (the graph kept has them)."""
    nodes = tuple((n.id, n.kind, n.op, n.name) for n in graph.nodes)
    edges = tuple((e.src, e.dst, e.slot, e.kind) for e in graph.edges)
    return nodes, edges


@dataclass(frozen=True, slots=True)
class Step:
    """One recorded backward call, as figures."""

    name: str
    """The call's name (`BackwardCall.name`): ``"3"``, ``"3.1"``."""
    graph: int
    """Which of `History.graphs` this call's graph has the structure of."""
    nodes: array[float]
    """float32, `FIGURES` for each node of that graph, in its node order."""
    edges: array[float]
    """float32, the norm of the gradient along each edge of that graph, in its edge order."""
    error: str | None = None
    """The exception backward raised, if it did."""

    def figures(self, node: int) -> tuple[float, ...]:
        """`FIGURES` of node ``node`` (its index in the step's graph)."""
        width = len(FIGURES)
        return tuple(self.nodes[node * width : (node + 1) * width])


@dataclass(slots=True)
class History:
    """Every call `add`-ed, in order: the graphs of their structures and each call's figures."""

    graphs: list[Graph] = field(default_factory=list)
    """One per distinct structure, as first recorded (with that call's figures in it)."""
    steps: list[Step] = field(default_factory=list)
    unkept: int = 0
    """Calls not kept: their structure was a new one past `MAX_GRAPHS`."""
    _keys: dict[tuple[object, ...], int] = field(default_factory=dict, repr=False)

    def add(self, name: str, graph: Graph, error: str | None = None) -> Step | None:
        """Keep the figures of call ``name`` (and its graph, if its structure is new); None
        when it was not kept (see `unkept`)."""
        key = structure_key(graph)
        index = self._keys.get(key)
        if index is None:
            if len(self.graphs) >= MAX_GRAPHS:
                self.unkept += 1
                return None
            index = self._keys[key] = len(self.graphs)
            self.graphs.append(graph)
        nodes = array("f", (v for node in graph.nodes for v in _figures(node.grad)))
        edges = array(
            "f",
            (
                math.nan if e.grad is None or e.grad.norm is None else e.grad.norm
                for e in graph.edges
            ),
        )
        step = Step(name, index, nodes, edges, error)
        self.steps.append(step)
        return step

    @classmethod
    def of(cls, calls: Iterable[tuple[str, Graph, str | None]]) -> History:
        """The history of ``calls``: ``(name, graph, error)`` each, in order."""
        history = cls()
        for name, graph, error in calls:
            history.add(name, graph, error)
        return history

    @property
    def main(self) -> int:
        """The structure most calls had (the latest of those tied): the one laid out."""
        counts = [0] * len(self.graphs)
        last = [0] * len(self.graphs)
        for k, step in enumerate(self.steps):
            counts[step.graph] += 1
            last[step.graph] = k
        return max(range(len(self.graphs)), key=lambda g: (counts[g], last[g]))

    def changes(self) -> Sequence[int]:
        """Indices of the steps whose structure differs from the step before."""
        return [
            k for k in range(1, len(self.steps)) if self.steps[k].graph != self.steps[k - 1].graph
        ]
