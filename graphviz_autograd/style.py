"""The colour legend shared by every renderer: one role per node, one colour per role."""

from __future__ import annotations

from typing import Final, Literal

from .model import Graph, Node

__all__ = ["LEGEND", "Role", "role", "roles_present"]

Role = Literal["output", "leaf", "input", "op", "saved"]

LEGEND: Final[dict[Role, tuple[str, str]]] = {
    "output": ("#b7e4b0", "output (a root the walk started from)"),
    "leaf": ("#a9cdf5", "leaf that requires grad (gets .grad)"),
    "input": ("#ffffff", "input that needs no grad"),
    "op": ("#dddddd", "op (backward function)"),
    "saved": ("#ffd59e", "tensor saved for backward"),
}
"""role -> (fill colour, meaning). Order is the order legends list them in."""


def role(graph_roots: frozenset[str], node: Node) -> Role:
    """The legend role of ``node``: roots are outputs whatever their kind."""
    return "output" if node.id in graph_roots else node.kind


def roles_present(graph: Graph) -> list[Role]:
    """Legend roles that occur in ``graph``, in legend order."""
    roots = frozenset(graph.roots)
    present = {role(roots, n) for n in graph.nodes}
    return [r for r in LEGEND if r in present]
