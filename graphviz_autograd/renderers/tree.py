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
from typing import Final

from rich.console import Console, Group
from rich.text import Text
from rich.tree import Tree

from ..model import Graph, Node
from .labels import edge_label, fmt_bytes, grad_line, source_text, subtitle, title, values_line
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


def node_text(node: Node, node_role: Role, *, first_bad: bool = False, full: bool = False) -> Text:
    """One tree line for ``node``: a colour swatch, title, shape, gradient and id.

    Built from `Text` parts, never from markup, so names such as ``[bold]`` print as they are.
    """
    colour = LEGEND[node_role][0]
    text = Text()
    text.append("■ ", style=colour)
    text.append(title(node), style="bold" if node_role == "output" else "")
    sub = subtitle(node)
    if sub:
        text.append(f"  {sub}", style="cyan")
    grad = grad_line(node.grad)
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
    values = values_line(node.grad, 6, one=False) if full else ""
    if values:
        text.append(f"  {values}", style="green")
    return text


def to_tree(graph: Graph, *, max_depth: int | None = None, full: bool = False) -> Tree | Group:
    """A rich renderable: one `Tree` per root (a `Group` of them when there are several).

    Past ``max_depth`` levels of nesting (None: no limit) a node's inputs are not nested
    further: its line ends in ``↓``, and a tree of its own after the others goes on from it
    (``↓ n12 MulBackward0, continued``), so a deep chain stays readable in a narrow terminal.
    """
    roots = frozenset(graph.roots)
    # dst -> {src: how many of dst's inputs it feeds}: `x + x` lists x once, as "×2".
    inputs: dict[str, dict[str, int]] = {n.id: {} for n in graph.nodes}
    # (dst, src) -> what flowed along those edges in the captured backward (`Edge.grad`).
    flows: dict[tuple[str, str], list[str]] = {}
    for edge in graph.edges:
        uses = inputs[edge.dst]
        uses[edge.src] = uses.get(edge.src, 0) + 1
        label = edge_label(edge.grad, edge.local)
        if label:
            flows.setdefault((edge.dst, edge.src), []).append(label)
    shown: set[str] = set()
    trees: list[Tree] = []
    # (node id, its module): where each tree starts. The roots first, then the nodes whose
    # inputs were cut at max_depth, in the order they were printed.
    starts: deque[tuple[str, str | None]] = deque((root_id, None) for root_id in graph.roots)
    while starts:
        start_id, start_module = starts.popleft()
        top = Tree(Text(), guide_style="dim")
        # Module groups: (id of the parent branch, module) -> its "▣ module" header branch.
        headers: dict[tuple[int, str], Tree] = {}
        # Depth-first in print order, so a back-reference always points up the page. Each
        # entry: node id, the branch to add it to, its use count, the module around it, and
        # the nesting level of its line (0: the top line).
        stack: list[tuple[str, Tree, int, str | None, int, str]] = []
        if len(trees) < len(graph.roots):
            stack.append((start_id, top, 1, None, 0, ""))
        else:  # a continued node: its inputs, under a reference to it
            node = graph.node(start_id)
            branch = top.add(Text(f"↓ {node.id} {title(node)}, continued", style="dim"))
            stack.extend(_inputs(inputs, flows, start_id, branch, start_module, 1))
        while stack:
            node_id, parent, count, outer, level, flow = stack.pop()
            node = graph.node(node_id)
            module = node.module or outer
            if node.module and node.module != outer:  # entering a module: group under it
                key = (id(parent), node.module)
                if key not in headers:
                    headers[key] = parent.add(Text(f"▣ {node.module}", style="bold cyan"))
                parent = headers[key]
                level += 1
            seen = node_id in shown
            line = (
                _ref(node)
                if seen
                else node_text(
                    node,
                    role(roots, node),
                    first_bad=node.id == graph.first_nonfinite,
                    full=full,
                )
            )
            if count > 1:
                line.append(f"  ×{count}", style="dim")
            if flow:  # what this node got along its edge(s) to the line above
                line.append(f"  ⟵ {flow}", style="magenta")
            cut = not seen and max_depth is not None and level >= max_depth and inputs[node_id]
            if cut:
                line.append("  ↓", style="dim")
                starts.append((node_id, module))
            branch = parent.add(line)
            if seen:
                continue
            shown.add(node_id)
            if not cut:
                stack.extend(_inputs(inputs, flows, node_id, branch, module, level + 1))
        trees.append(top.children[0])
    return trees[0] if len(trees) == 1 else Group(*trees)


def _inputs(
    inputs: dict[str, dict[str, int]],
    flows: dict[tuple[str, str], list[str]],
    node_id: str,
    branch: Tree,
    module: str | None,
    level: int,
) -> list[tuple[str, Tree, int, str | None, int, str]]:
    """Stack entries for the inputs of ``node_id``, so that the first input is printed first;
    each with what flowed to it from ``node_id`` (empty when not recorded)."""
    return [
        (src, branch, n, module, level, ", ".join(flows.get((node_id, src), ())))
        for src, n in reversed(inputs[node_id].items())
    ]


def _ref(node: Node) -> Text:
    return Text(f"↑ {node.id} {title(node)}", style="dim")


def legend_text(graph: Graph) -> Text:
    """The colour legend for the roles present in ``graph``, on one line."""
    text = Text()
    for r in roles_present(graph):
        colour, meaning = LEGEND[r]
        text.append("■ ", style=colour)
        text.append(f"{meaning}   ")
    text.rstrip()
    return text


def saved_summary(graph: Graph, *, top: int = 5) -> Text:
    """Total bytes saved for backward, then the ``top`` ops that save the most."""
    text = Text(f"saved for backward: {fmt_bytes(graph.saved_bytes)}", style="bold")
    held = [(sum(t.bytes or 0 for t in n.saved if not t.freed), n) for n in graph.nodes if n.saved]
    held = [(b, n) for b, n in held if b > 0]
    held.sort(key=lambda pair: (-pair[0], int(pair[1].id[1:]) if pair[1].id[1:].isdigit() else 0))
    for nbytes, node in held[:top]:
        text.append(f"\n  {fmt_bytes(nbytes):>10}  ")
        text.append(title(node))
        text.append(f"  {node.id}", style="dim")
    if not held and graph.saved_bytes:
        text.append("  (freed by backward)", style="dim")
    return text


def print_graph_tree(
    graph: Graph, *, console: Console | None = None, legend: bool = True, full: bool = False
) -> None:
    """Print ``graph`` as a tree, the graph's notes (what was folded, and how not to), the
    saved-memory summary (``show_saved``), the legend."""
    console = console or Console()
    # Each level indents by 4 columns: keep TEXT_ROOM columns for the text of the deepest line.
    depth = max(2, (console.width - TEXT_ROOM) // 4)
    console.print(to_tree(graph, max_depth=depth, full=full))
    for note in graph.notes:
        console.print(Text(note, style="yellow"))
    if graph.saved_bytes is not None:
        console.print(saved_summary(graph))
    if legend:
        console.print(legend_text(graph))
