"""`Graph` -> a rich `Tree`, from the roots toward the leaves.

Ops made inside an ``nn.Module`` are grouped under a ``▣ model.0`` header where the path
enters that module. A DAG is not a tree: a node reached again is printed once, then as a dim
back-reference (``↑ n4 MulBackward0``), and an input used twice by one op (``x + x``) is
listed once with ``×2``, so `x = x + x` forty times prints 41 nodes, not 2**40. A tree deeper
than the terminal has room for continues below, in a tree of its own (``↓ n12 ..., continued``).
"""

from __future__ import annotations

import os
from collections import deque
from typing import Final, NamedTuple

from rich.console import Console, Group
from rich.text import Text
from rich.tree import Tree

from ..model import Graph, Node
from .labels import (
    FULL_VALUES,
    edge_label,
    fmt_bytes,
    grad_line,
    source_text,
    subtitle,
    title,
    values_line,
)
from .style import LEGEND, Role, role, roles_present

__all__ = [
    "TEXT_ROOM",
    "legend_text",
    "node_text",
    "print_graph_tree",
    "saved_summary",
    "to_tree",
]


TEXT_ROOM: Final = 40
"""Columns kept for a line's text when `print_graph_tree` decides how deep to nest."""


def node_text(
    node: Node,
    node_role: Role,
    *,
    first_bad: bool = False,
    full: bool = False,
    show_order: bool = False,
) -> Text:
    """One tree line for ``node``: a colour swatch, title, shape, gradient and id; with
    ``show_order``, first the position (``#3``) in which backward ran it.

    Built from `Text` parts, never from markup, so names such as ``[bold]`` print as they are.
    """
    colour = LEGEND[node_role].fill
    text = Text()
    text.append("■ ", style=colour)
    if show_order and node.order is not None:
        text.append(f"#{node.order} ", style="bold")
    text.append(title(node), style="bold" if node_role == "output" else "")
    sub = subtitle(node)
    if sub:
        text.append(f"  {sub}", style="cyan")
    grad = grad_line(node.grad, returned=node.grad_returned)
    if grad:
        text.append(
            f"  {grad}", style="red" if node.grad and (node.grad.nan or node.grad.inf) else "green"
        )
    if first_bad:
        text.append("  ⚠ first NaN/Inf in backward", style="bold red")
    text.append(f"  {node.id}", style="dim")
    if node.source is not None:
        place = f"{os.path.basename(node.source.file)}:{node.source.line}"
        text.append(f"  {source_text(node.source) if full else place}", style="dim")
    for key, value in node.attrs:  # show_attrs: listed here as in the picture's labels
        text.append(f"  {key}={value}", style="yellow")
    values = values_line(node.grad, FULL_VALUES, one=False) if full else ""
    if values:
        text.append(f"  {values}", style="green")
    return text


def to_tree(
    graph: Graph,
    *,
    max_depth: int | None = None,
    full: bool = False,
    show_order: bool = False,
    edge_grads: bool = True,
) -> Tree | Group:
    """A rich renderable: one `Tree` per root (a `Group` of them when there are several).

    With ``show_order``, each line starts with the position (``#3``) in which backward ran its
    node; with ``edge_grads`` (the default), each ends with what flowed along its edge(s) to the
    line above (``⟵ ‖·‖=2.3``).

    Past ``max_depth`` levels of nesting (None: no limit) a node's inputs are not nested
    further: its line ends in ``↓``, and a tree of its own after the others goes on from it
    (``↓ n12 MulBackward0, continued``), so a deep chain stays readable in a narrow terminal.
    """
    trees = _TreeWriter(graph, max_depth, _Parts(full, show_order, edge_grads)).trees()
    return trees[0] if len(trees) == 1 else Group(*trees)


class _Start(NamedTuple):
    """Where a tree starts."""

    node_id: str
    module: str | None
    """The module around the node (None for a root)."""


class _Parts(NamedTuple):
    """What each line of a tree shows beyond a node's title, shape, gradient and id."""

    full: bool
    """Gradient values and the source line (``labels="full"``)."""
    show_order: bool
    """The position in which backward ran the node (``#3``)."""
    edge_grads: bool
    """What flowed along the edge(s) to the line above (``⟵ ‖·‖=2.3``)."""


class _Line(NamedTuple):
    """A line still to print, on `_TreeWriter.tree`'s stack."""

    node_id: str
    parent: Tree
    """The branch to add it to."""
    uses: int
    """How many of the inputs of the node above it it feeds (``x + x``: 2)."""
    outer: str | None
    """The module around it."""
    level: int
    """The nesting level of the line (0: the top line)."""
    flow: str
    """What it got along its edge(s) to the line above (empty when not recorded)."""


class _TreeWriter:
    """The trees of one graph: each node is printed in full once, then referred to."""

    def __init__(self, graph: Graph, max_depth: int | None, parts: _Parts) -> None:
        self.graph = graph
        self.roots = frozenset(graph.roots)
        self.max_depth = max_depth
        self.parts = parts
        # dst -> {src: how many of dst's inputs it feeds}: `x + x` lists x once, as "×2".
        self.inputs: dict[str, dict[str, int]] = {n.id: {} for n in graph.nodes}
        # (dst, src) -> what flowed along those edges in the captured backward (`Edge.grad`).
        self.flows: dict[tuple[str, str], list[str]] = {}
        for edge in graph.edges:
            uses = self.inputs[edge.dst]
            uses[edge.src] = uses.get(edge.src, 0) + 1
            label = edge_label(edge.grad, edge.local) if parts.edge_grads else ""
            if label:
                self.flows.setdefault((edge.dst, edge.src), []).append(label)
        self.shown: set[str] = set()
        # Where each tree starts: the roots first, then the nodes whose inputs were cut at
        # max_depth, in the order they were printed.
        self.starts = deque(_Start(root_id, None) for root_id in graph.roots)

    def trees(self) -> list[Tree]:
        """One tree per root, then one per node whose inputs were cut at ``max_depth``."""
        trees: list[Tree] = []
        while self.starts:
            start = self.starts.popleft()
            trees.append(self.tree(start, continued=len(trees) >= len(self.graph.roots)))
        return trees

    def tree(self, start: _Start, *, continued: bool) -> Tree:
        """The tree from ``start``; ``continued``: a node cut at ``max_depth``, whose inputs
        go on under a reference to it."""
        top = Tree(Text(), guide_style="dim")
        # Module groups: (id of the parent branch, module) -> its "▣ module" header branch.
        headers: dict[tuple[int, str], Tree] = {}
        # Depth-first in print order, so a back-reference always points up the page.
        stack: list[_Line] = []
        if not continued:
            stack.append(_Line(start.node_id, top, uses=1, outer=None, level=0, flow=""))
        else:
            node = self.graph.node(start.node_id)
            branch = top.add(Text(f"↓ {node.id} {title(node)}, continued", style="dim"))
            stack.extend(self._inputs(start.node_id, branch, start.module, 1))
        while stack:
            line = stack.pop()
            node = self.graph.node(line.node_id)
            parent, level = line.parent, line.level
            module = node.module or line.outer
            if node.module and node.module != line.outer:  # entering a module: group under it
                key = (id(parent), node.module)
                if key not in headers:
                    headers[key] = parent.add(Text(f"▣ {node.module}", style="bold cyan"))
                parent = headers[key]
                level += 1
            seen = node.id in self.shown
            cut = self._cut(node, level, seen)
            branch = parent.add(self._text(node, line, seen, cut))
            if cut:
                self.starts.append(_Start(node.id, module))
            if seen:
                continue
            self.shown.add(node.id)
            if not cut:
                stack.extend(self._inputs(node.id, branch, module, level + 1))
        return top.children[0]

    def _cut(self, node: Node, level: int, seen: bool) -> bool:
        """Whether the inputs of ``node``, at nesting ``level``, go on in a tree of their own."""
        return bool(
            not seen
            and self.max_depth is not None
            and level >= self.max_depth
            and self.inputs[node.id]
        )

    def _text(self, node: Node, line: _Line, seen: bool, cut: bool) -> Text:
        """The text of ``line``, which prints ``node``: in full, or as a reference when it was
        ``seen`` before; ending in ``↓`` when its inputs are ``cut``."""
        if seen:
            text = _ref(node)
        else:
            node_role = role(self.roots, node)
            first_bad = node.id == self.graph.first_nonfinite
            parts = self.parts
            text = node_text(
                node, node_role, first_bad=first_bad, full=parts.full, show_order=parts.show_order
            )
        if line.uses > 1:
            text.append(f"  ×{line.uses}", style="dim")
        if line.flow:  # what this node got along its edge(s) to the line above
            text.append(f"  ⟵ {line.flow}", style="magenta")
        if cut:
            text.append("  ↓", style="dim")
        return text

    def _inputs(self, node_id: str, branch: Tree, module: str | None, level: int) -> list[_Line]:
        """Stack entries for the inputs of ``node_id``, so that the first input is printed
        first; each with what flowed to it from ``node_id`` (empty when not recorded)."""
        return [
            _Line(src, branch, n, module, level, ", ".join(self.flows.get((node_id, src), ())))
            for src, n in reversed(self.inputs[node_id].items())
        ]


def _ref(node: Node) -> Text:
    return Text(f"↑ {node.id} {title(node)}", style="dim")


def legend_text(graph: Graph) -> Text:
    """The colour legend for the roles present in ``graph``, on one line."""
    text = Text()
    for r in roles_present(graph):
        colour, meaning = LEGEND[r].fill, LEGEND[r].meaning
        text.append("■ ", style=colour)
        text.append(f"{meaning}   ")
    text.rstrip()
    return text


def saved_summary(graph: Graph, *, top: int = 5) -> Text:
    """Total bytes saved for backward, then the ``top`` ops that save the most."""
    text = Text(f"saved for backward: {fmt_bytes(graph.saved_bytes)}", style="bold")
    held = [_Held(_held_bytes(n), n) for n in graph.nodes if n.saved]
    held = [h for h in held if h.nbytes > 0]
    held.sort(key=lambda h: (-h.nbytes, _number(h.node.id)))
    for h in held[:top]:
        text.append(f"\n  {fmt_bytes(h.nbytes):>10}  ")
        text.append(title(h.node))
        text.append(f"  {h.node.id}", style="dim")
    if not held and graph.saved_bytes:
        text.append("  (freed by backward)", style="dim")
    return text


class _Held(NamedTuple):
    """What an op keeps alive for backward."""

    nbytes: int
    """The bytes of its saved tensors not yet freed."""
    node: Node


def _held_bytes(node: Node) -> int:
    return sum(t.bytes or 0 for t in node.saved if not t.freed)


def _number(node_id: str) -> int:
    """``12`` for ``n12``; 0 for an id not of that form."""
    return int(node_id[1:]) if node_id[1:].isdigit() else 0


def print_graph_tree(
    graph: Graph,
    *,
    console: Console | None = None,
    legend: bool = True,
    full: bool = False,
    show_order: bool = False,
    edge_grads: bool = True,
) -> None:
    """Print ``graph`` as a tree (``full``, ``show_order``, ``edge_grads``: as for `to_tree`),
    the graph's notes (what was folded, and how not to), the saved-memory summary
    (``show_saved``), the legend."""
    console = console or Console()
    # Each level indents by 4 columns: keep TEXT_ROOM columns for the text of the deepest line.
    depth = max(2, (console.width - TEXT_ROOM) // 4)
    tree = to_tree(graph, max_depth=depth, full=full, show_order=show_order, edge_grads=edge_grads)
    console.print(tree)
    for note in graph.notes:
        console.print(Text(note, style="yellow"))
    if graph.saved_bytes is not None:
        console.print(saved_summary(graph))
    if legend:
        console.print(legend_text(graph))
