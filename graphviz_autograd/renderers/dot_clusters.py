"""The module boxes of a DOT graph: one ``subgraph cluster_m<i>`` per module call, nested as
the modules are, with each parameter drawn beside the op that uses it."""

from __future__ import annotations

from itertools import compress
from typing import Final, NamedTuple

from ..model import Graph
from .dot_quoting import dot_id, quote

__all__ = ["Clusters", "clusters"]


class Clusters(NamedTuple):
    """The module clusters of a graph, as `clusters` writes them."""

    lines: list[str]
    """The ``subgraph cluster_m<i>`` statements, nested, one line each."""
    names: dict[int, str]
    """Node index -> the name its label shows: a leaf inside the cluster of the module that
    owns it shows its name relative to that module (``weight`` in ``model.0``)."""


def clusters(graph: Graph) -> Clusters:
    """Nested ``cluster`` subgraphs, one per module call (``model``, ``model.0``, ``relu@2``),
    each listing the nodes made directly inside it; none when no node carries a module.

    Laid out so that a model reads as a column: each cluster is labelled with its path
    relative to the cluster around it (the whole path is its tooltip); a module whose box
    would hold only one other box shares that box; and a leaf drawn in
    the module that owns it (a parameter) sits on the rank of its only consumer in that
    module, beside it, not on a rank of its own above it. A leaf above its op would stretch
    the module's box up into the rank of the op before it, in the box of the module before,
    and the two boxes, which may not overlap, would be pushed side by side: down a whole
    model, a staircase."""
    if not any(graph.column("module")):  # one pass in C
        return Clusters([], {})
    modules = list(graph.column("module"))
    members: dict[str, list[str]] = {}
    ids = graph.column("id")
    ids = ids if isinstance(ids, list) else list(ids)
    for node_id, module in compress(zip(ids, modules, strict=True), modules):
        members.setdefault(module, []).append(node_id)
    parameters = _parameters(graph, ids, modules)
    return Clusters(_boxes(members, parameters.beside), parameters.names)


class _Tree(NamedTuple):
    """The modules of a graph and every prefix of their paths, as a tree."""

    number: dict[str, int]
    """Path -> its cluster's number: shallow paths first, then by name."""
    children: dict[str, list[str]]
    """Path -> the paths one level below it, in `number` order."""
    tops: list[str]
    """The paths with no module around them, in `number` order."""


def _tree(paths: list[str]) -> _Tree:
    """The `_Tree` of the module ``paths``: every prefix of one is a module too
    (``named_modules`` paths)."""
    every: set[str] = set()
    for path in paths:
        parts = path.split(".")
        every.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    ordered = sorted(every, key=lambda p: (p.count("."), p))
    children: dict[str, list[str]] = {p: [] for p in ordered}
    tops: list[str] = []
    for path in ordered:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        (children[parent] if parent in children else tops).append(path)
    return _Tree({p: i for i, p in enumerate(ordered)}, children, tops)


class _Box(NamedTuple):
    """An entry of `_boxes`'s stack: a box to open, or where one closes."""

    path: str | None
    """The module whose box opens; None: the box opened last closes."""
    depth: int
    """Nesting level of its lines (1: directly in the graph)."""
    outer: str
    """The path of the box around it ("" for none)."""


def _boxes(members: dict[str, list[str]], beside: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The nested ``subgraph`` statements, one line each: the boxes of the modules that have
    ``members`` (module -> its node ids), each holding its members and ranking each parameter
    ``beside`` its op (module -> (leaf, op) pairs)."""
    tree = _tree(list(members))
    lines: list[str] = []
    stack = [_Box(p, 1, "") for p in reversed(tree.tops)]  # iterative pre-order
    while stack:
        box = stack.pop()
        pad = "  " * box.depth
        if box.path is None:
            lines.append(pad + "}")
            continue
        path = box.path
        # A box that would hold nothing but one other box is drawn as that box, labelled with
        # both names (``encoder.stages``): fewer nested borders, the same information.
        while path not in members and len(tree.children[path]) == 1:
            path = tree.children[path][0]
        label = path[len(box.outer) + 1 :] if box.outer else path
        lines.append(
            f"{pad}subgraph cluster_m{tree.number[path]} {{ label={quote(label)} "
            f"tooltip={quote(path)}{_CLUSTER_STYLE}"
        )
        lines.extend(f"{pad}  {dot_id(node_id)};" for node_id in members.get(path, ()))
        lines.extend(
            f"{pad}  {{ rank=same; {dot_id(leaf)}; {dot_id(op)}; }}"
            for leaf, op in beside.get(path, ())
        )
        stack.append(_Box(None, box.depth, ""))
        stack.extend(_Box(child, box.depth + 1, path) for child in reversed(tree.children[path]))
    return lines


_CLUSTER_STYLE: Final = (
    ' style="rounded,dashed" color="#999999" fontcolor="#555555" fontsize=9 labelloc=t;'
)


class _Parameters(NamedTuple):
    """The leaves drawn in a module's cluster."""

    beside: dict[str, list[tuple[str, str]]]
    """Module -> (leaf, its only consumer) for each leaf whose every edge goes to one node of
    the same module."""
    names: dict[int, str]
    """Node index -> the leaf's name relative to its module, for leaves named inside it."""


def _parameters(graph: Graph, ids: list[str], modules: list[str | None]) -> _Parameters:
    """The `_Parameters` of ``graph``, whose node ids are ``ids`` and modules ``modules``."""
    rows = zip(ids, graph.column("kind"), graph.column("name"), modules, strict=True)
    leaves: dict[str, int] = {}
    names: dict[int, str] = {}
    for i, (node_id, kind, name, module) in enumerate(rows):
        if kind != "leaf" or module is None:
            continue
        leaves[node_id] = i
        if name is not None and name.startswith(module + "."):
            names[i] = name[len(module) + 1 :]
    if not leaves:
        return _Parameters({}, {})
    consumers: dict[str, set[str]] = {}
    sources, targets, _ = graph.edge_columns()
    for source, target in zip(sources, targets, strict=True):
        if source in leaves:
            consumers.setdefault(source, set()).add(target)
    index = {node_id: i for i, node_id in enumerate(ids)} if consumers else {}
    beside: dict[str, list[tuple[str, str]]] = {}
    for leaf, ops in consumers.items():
        module = modules[leaves[leaf]]
        if len(ops) == 1 and module is not None:
            (op,) = ops
            if modules[index[op]] == module:
                beside.setdefault(module, []).append((leaf, op))
    return _Parameters(beside, names)
