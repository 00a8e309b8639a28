"""`Graph` -> DOT text, and DOT -> SVG/PNG/PDF through the Graphviz `dot` program.

DOT is written in one pass with one quoting function (`quote`): every label is a double-quoted
DOT string, never an HTML label, so a name like ``<script>"];x->y;`` stays inert text. Graphviz
reads character entities (``&lt;``, ``&#92;``) in every string, so ``&`` is written ``&amp;``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain, compress, islice, repeat
from typing import Any, Final, Literal, NamedTuple, TypeAlias

from ..errors import GradvizError, GraphvizNotFoundError, LayoutTimeoutError
from ..model import Edge, Graph, Node
from .labels import (
    edge_label,
    facts,
    fmt_float,
    fmt_shape,
    grad_line,
    heading,
    source_text,
    subtitle,
    values_line,
)
from .style import (
    DARK_SHADES,
    GRAD_RAMP,
    LEAF_RAMP,
    LEGEND,
    NONFINITE,
    Role,
    Shading,
    grad_shades,
    roles_present,
)

__all__ = [
    "EDGE_GRADS_UP_TO",
    "FIRST_BAD_STYLE",
    "IMAGE_FORMATS",
    "Labels",
    "NODE_STYLE",
    "SAVED_EDGE_STYLE",
    "find_dot",
    "label_rest",
    "quote",
    "run_dot",
    "to_dot",
    "to_image",
    "to_svg",
]

ImageFormat = Literal["svg", "png", "pdf"]
Labels = Literal["short", "attrs", "full"]
"""What a node's label shows beyond its title, shape and gradient (see `to_dot`)."""
IMAGE_FORMATS: Final[tuple[ImageFormat, ...]] = ("svg", "png", "pdf")

NODE_STYLE: Final[dict[Role, str]] = {
    "output": ' style="rounded,filled,bold"',
    "leaf": "",
    "input": ' style="rounded,filled,dashed" fontcolor="#555555"',
    "op": "",
    "saved": ' style="filled" shape=note fontcolor="#6b4a00"',
}
"""role -> the DOT node attributes it adds to the defaults (`_NODE_DEFAULTS`: a rounded box
filled in the op colour); fill colours come from `LEGEND`."""

_DEFAULT_FILL: Final = LEGEND["op"][0]
_NODE_DEFAULTS: Final = (
    f'  node [shape=box style="rounded,filled" fillcolor="{_DEFAULT_FILL}" fontname="Helvetica" '
    'fontsize=10 height=0.3 margin="0.12,0.04" penwidth=0.8];'
)

SAVED_EDGE_STYLE: Final = 'style=dashed color="#d9a441" arrowhead=odot'
"""The DOT attributes of an edge from a saved tensor to the op that saved it."""
FIRST_BAD_STYLE: Final = 'color="#d00000" penwidth=3'
"""The DOT attributes that mark the node whose gradient was the first NaN/Inf in backward."""
_SAVED_EDGE: Final = f" [{SAVED_EDGE_STYLE}]"

EDGE_GRADS_UP_TO: Final = 40
"""Captured graphs of at most this many nodes label each edge with the gradient that flowed
along it, unless told not to (``edge_grads=False``): on a bigger graph the labels crowd it."""

INSTALL_HINT: Final = (
    "Graphviz `dot` was not found on PATH: install it (Debian/Ubuntu: apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz), or write DOT or JSON instead"
)


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string; newlines become centred line breaks."""
    return '"' + _escape(text) + '"'


def _escape(text: str) -> str:
    """The inside of `quote`."""
    if _SPECIAL(text) is None:  # most names and titles: nothing to escape
        return text
    if _MARKUP(text) is not None:  # rare: most texts have line breaks and nothing else
        text = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
        text = text.replace("\r", "")
    return text.replace("\n", "\\n")


_SPECIAL: Final = re.compile(r'[&\\"\r\n]').search
"""The first character of a text that `_escape` changes, or None."""
_MARKUP: Final = re.compile(r'[&\\"\r]').search
"""The first such character other than a line break, or None."""

_KEYWORDS: Final = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def _id(node_id: str) -> str:
    """A node id as a DOT ID: bare when it is a plain identifier (``n12``), else quoted."""
    if node_id.isidentifier() and node_id.isascii() and node_id.lower() not in _KEYWORDS:
        return node_id
    return quote(node_id)


def _refs(ids: list[str]) -> list[str]:
    """The DOT ID of each node id: ``ids`` itself when every one is a plain identifier."""
    if all(map(str.isidentifier, ids)):  # then no id has a newline, and one join checks all
        joined = "\n".join(ids)
        lowered = joined.lower()  # DOT keywords ignore case
        if joined.isascii() and _KEYWORDS.isdisjoint(
            ids if lowered == joined else lowered.split("\n")
        ):
            return ids
    return list(map(_id, ids))


class _Statements(dict[Node, str]):
    """A node's record with a blank id -> the end of its statement, which follows
    ``  n5 [tooltip="n5``: the title and facts, the label, the attributes. Nodes that differ
    only in id (the ops of a long chain, the leaves of a wide graph) share one end, made once,
    when first asked for; nodes that differ only in name (a model's parameters) or in backward
    order (the ops of a captured chain, with equal gradients of a few values) share all of it
    but the title (`_plain_rests` for what a walk makes, else `_Rests`), and the end of such a
    node, most likely the only one, is not kept. A node coloured apart (a root, an op shaded
    by its gradient) gets its end from `make`, which keeps none."""

    def __init__(self, show_order: bool, attr_chars: int = 0, full: bool = False) -> None:
        super().__init__()
        self.show_order = show_order
        self.rests = _Rests(attr_chars, full)

    def __missing__(self, node: Node) -> str:
        end = self.make(node, False, None, False)
        if node.name is None and node.order is None:  # else most likely the only one
            self[node] = end
        return end

    def make(self, node: Node, output: bool, fill: str | None, first_bad: bool) -> str:
        """The end of the statement of ``node`` (its id blank), drawn as an output or not, in
        ``fill`` (None: its kind's colour), with the first NaN's border or not; not kept."""
        kind, name, order, grad = node.kind, node.name, node.order, node.grad
        head = _escape(heading(kind, node.op, name, node.count))
        label_head = head
        if self.show_order and order is not None:
            label_head = f"#{order} {head}"  # the order is a number: nothing to escape
        role: Role = "output" if output else kind
        plain = None if first_bad else _plain_key(node)
        if plain is not None:  # what a walk makes: ops of one shape share their rest
            tip_rest, label_rest = _plain_rests(plain, role, fill)
        # A gradient of a few values often recurs (along a chain, across parallel branches); a
        # bigger one hardly ever, and hashing it costs more than the lookup saves: skip it.
        elif grad is None or (grad.values is not None and len(grad.values) <= _SHARED_VALUES):
            if name is not None or order is not None:  # the rest shows neither: drop them
                # node._replace(name=None, order=None) in a quarter of its time: a captured
                # graph's every node comes this way.
                fields = list(node)
                fields[_NAME] = fields[_ORDER] = None
                node = _NEW(Node, fields)
            tip_rest, label_rest = self.rests[node, role, fill, first_bad]
        else:
            tip_rest, label_rest = self.rests.make((node, role, fill, first_bad))
        return f": {head}{tip_rest}{label_head}{label_rest}"


_SHARED_VALUES: Final = 4


_NAME: Final = Node._fields.index("name")
_ORDER: Final = Node._fields.index("order")
_NEW: Final[Any] = tuple.__new__


def _attributes(r: Role, fill: str | None, first_bad: bool) -> str:
    """The DOT attributes of a node in role ``r``, filled with ``fill`` (None: the role's
    colour), with the first NaN's border or not."""
    if fill is None:
        fill = LEGEND[r][0]
    attrs = "" if fill == _DEFAULT_FILL else f' fillcolor="{fill}"'
    attrs += NODE_STYLE[r]
    if fill in DARK_SHADES:
        attrs += ' fontcolor="white"'
    if first_bad:
        attrs += " " + FIRST_BAD_STYLE
    return attrs


class _Rests(dict[tuple[Node, Role, "str | None", bool], tuple[str, str]]):
    """(nameless node without an order, role, fill, first_bad) -> what follows the title in
    the tooltip (the facts, then ``" label="``), and what follows it in the label (shape and
    gradient, then the attributes and ``];``), escaped. With ``attr_chars``, the label also
    lists an op's non-tensor saved attributes, each value cut to that many characters; with
    ``full``, also the source line and a gradient's first values (see `_rest`)."""

    def __init__(self, attr_chars: int = 0, full: bool = False) -> None:
        super().__init__()
        self.attr_chars = attr_chars
        self.full = full

    def __missing__(self, key: tuple[Node, Role, str | None, bool]) -> tuple[str, str]:
        rest = self[key] = self.make(key)
        return rest

    def make(self, key: tuple[Node, Role, str | None, bool]) -> tuple[str, str]:
        """The value for ``key``, made anew."""
        node, r, fill, first_bad = key
        tip, label = _rest(node, first_bad, self.attr_chars, self.full)
        attrs = _attributes(r, fill, first_bad)
        return _escape(tip) + '" label="', f'{_escape(label)}"{attrs}];\n'


@lru_cache(maxsize=4096)
def _plain_rests(plain: _PlainKey, r: Role, fill: str | None) -> tuple[str, str]:
    """`_Rests` of the nodes a walk makes by default, from what their rest shows
    (`_plain_key`), their role and fill: the ops of one output shape share one, whatever their
    op (the title shows it). Kept across calls, like the shape texts: a model's graphs show
    the same few (the 6-layer transformer's 116 kinds of node take 23, not 51)."""
    tip, label = _plain_rest(plain)
    return _escape(tip) + '" label="', f'{_escape(label)}"{_attributes(r, fill, False)}];\n'


_PlainKey: TypeAlias = tuple[
    str, "str | None", "tuple[int, ...] | None", "str | None", bool, bool, bool
]
"""What the rest of a plain node shows: kind, op (None for an op: its title shows it), shape,
dtype, is_leaf, requires_grad, retains_grad."""


def _plain_key(node: Node) -> _PlainKey | None:
    """The `_PlainKey` of a node with no gradient, attributes, call site, module or saved
    tensors (what a walk makes by default), else None."""
    if (
        node.grad is not None
        or node.attrs
        or node.freed
        or node.source is not None
        or node.saved
        or node.module is not None
    ):
        return None
    kind = node.kind
    op = None if kind == "op" else node.op
    return (kind, op, node.shape, node.dtype, node.is_leaf, node.requires_grad, node.retains_grad)


def _rest(node: Node, first_bad: bool, attr_chars: int = 0, full: bool = False) -> tuple[str, str]:
    """What follows the title in the tooltip and in the label of ``node``, unescaped."""
    tip = "".join(f"\n{line}" for line in facts(node))
    return tip, label_rest(node, first_bad, attr_chars, full)


def label_rest(node: Node, first_bad: bool, attr_chars: int = 0, full: bool = False) -> str:
    """What follows the title in the label of ``node``, unescaped: its shape and gradient, and
    the first NaN's warning when it is ``first_bad``. With ``full`` (``labels="full"``), also
    what the tooltip knows: the gradient's first values, the attributes and the source line."""
    lines = [subtitle(node), grad_line(node.grad)]
    if full:
        lines.append(values_line(node.grad, FULL_VALUES, one=False))
        attr_chars = attr_chars or FULL_ATTR_CHARS
    if attr_chars:
        lines.extend(f"{k}: {_cut(v, attr_chars)}" for k, v in node.attrs)
    if full and node.source is not None:
        lines.append(_cut(source_text(node.source), FULL_SOURCE_CHARS))
    if first_bad:
        lines.append("⚠ first NaN/Inf in backward")
    return "".join(f"\n{line}" for line in lines if line)


FULL_VALUES: Final = 6
"""``labels="full"``: the gradient values a label lists (the tooltip has up to 16)."""
FULL_ATTR_CHARS: Final = 40
FULL_SOURCE_CHARS: Final = 60


def _cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters ending in ``...``."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def _plain_rest(plain: _PlainKey) -> tuple[str, str]:
    """`_rest` of a plain node (see `_plain_key`), from what it shows: the same text (a test
    holds them together), in one format string each."""
    kind, op, shape, dtype, is_leaf, requires_grad, retains_grad = plain
    size = fmt_shape(shape)
    tip = (
        (f"\nop: {op}" if op else "")
        + f"\nshape: {size}  dtype: {dtype or '?'}"
        + f"\nis_leaf: {is_leaf}  requires_grad: {requires_grad}"
        + ("  retains_grad: True" if retains_grad else "")
        + ("\ngrad: None (no backward yet)" if kind == "leaf" else "")
    )
    if shape is None and dtype is None:
        return tip, ""
    return tip, f"\n{size} {dtype or ''}".rstrip()


def _node_runs(
    nodes: Iterable[Node],
    refs: list[str],
    tips: list[str],
    apart: dict[int, tuple[bool, str | None, bool]],
    show_order: bool,
    attr_chars: int = 0,
    full: bool = False,
) -> Iterator[Iterable[str]]:
    """The pieces of one statement per node, ``  n5 [tooltip="n5: ...];``, to join with "",
    in runs: the ordinary nodes before each node apart (made in C), then that node's pieces.
    ``nodes``: each node's record with a blank id (`Graph.rows`). ``apart``: node index ->
    (output?, fill, first_bad) for the nodes whose colour is not their kind's (roots, ops
    shaded by gradient, the first NaN). Each run is asked for once the one before it has been
    used up, so ``nodes`` is read once, in order. Made in C, not by a Python loop with an
    f-string per node, which costs a third more `to_dot` on the 100,000-op chain and a tenth
    on the 6-layer transformer."""
    ends = _Statements(show_order, attr_chars, full)
    rows = iter(nodes)
    start = 0
    for i in (*sorted(apart), len(refs)):
        if i > start:  # in a captured graph, ops apart often follow one another
            # Pieces, not lines, so that the only copy of the text is the one the join makes.
            yield chain.from_iterable(
                zip(
                    repeat("  "),
                    refs[start:i],
                    repeat(' [tooltip="'),
                    tips[start:i],
                    map(ends.__getitem__, islice(rows, i - start)),
                    strict=False,  # the repeats are endless; the rest have i - start items
                )
            )
        if i < len(refs):
            yield (f'  {refs[i]} [tooltip="{tips[i]}', ends.make(next(rows), *apart[i]))
        start = i + 1


def to_dot(
    graph: Graph,
    *,
    rankdir: str = "TB",
    legend: bool = True,
    show_order: bool = False,
    attr_chars: int = 0,
    edge_grads: bool | None = None,
    scale: tuple[float, float] | None = None,
    labels: Labels = "short",
) -> str:
    """DOT source for ``graph``: same graph, same bytes.

    Op nodes that carry a gradient (captured graphs) are shaded by its norm on a log scale;
    NaN/Inf gradients are red, and the first of them in backward order has a thick red border.

    Args:
        rankdir: ``TB`` (leaves on top, loss at the bottom) or ``LR``, ``BT``, ``RL``.
        legend: draw the colour legend for the roles present under the graph.
        show_order: prefix each label with the position (``#3``) in which backward ran it.
        attr_chars: list each op's non-tensor saved attributes (``show_attrs``) in its label,
            not only in its tooltip, each value cut to this many characters (0: tooltip only).
        edge_grads: label each edge with the gradient that flowed along it in the captured
            backward (`Edge.grad`: ``-1.5``, or ``‖·‖=2.3``) and, for a scalar, its local
            derivative (``(×0.5)``); None (default): for graphs of at most
            `EDGE_GRADS_UP_TO` nodes.
        scale: the (low, high) gradient norms the shading ramp spans, shared by several graphs
            (`style.shared_scale`); default: this graph's own range.
        labels: ``"attrs"`` lists each op's attributes (``show_attrs``) in its label, not
            only in its tooltip; ``"full"`` puts what a tooltip knows in the label, for PNG and
            PDF: a gradient's first values, the attributes and the source line.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise GradvizError(f"rankdir must be TB, LR, BT or RL, not {rankdir!r}")
    shading = grad_shades(graph, scale, leaves=scale is not None)
    shades = shading.fills
    flows = _edge_grads_shown(graph, edge_grads) and any(e.grad for e in graph.edges)
    clusters = _clusters(graph)
    notes = quote("\n".join(graph.notes)) if graph.notes and not legend else ""
    header = [
        "digraph gradviz {",
        f'  graph [rankdir={rankdir} fontname="Helvetica" fontsize=10 ranksep=0.35 nodesep=0.25'
        # One ranking for the whole graph: dot's default ranks each cluster on its own, which
        # can put an op above its input and stack the boxes of a model side by side.
        + (" newrank=true" if clusters.lines else "")
        + (" concentrate=true" if _fans_in(graph) else "")
        + (f" labelloc=b labeljust=l label=<{_legend(graph, shading, flows)}>" if legend else "")
        + (f" labelloc=b label={notes}" if notes else "")
        + "];",
        _NODE_DEFAULTS,
        "  edge [arrowsize=0.6 penwidth=0.8];",
        "",
    ]
    out = ["\n".join(header)]  # then pieces, each line ending in a newline
    # Rows, not records: a walked graph that was never read makes no Node or Edge records.
    ids, nodes = graph.rows()
    if clusters.names:  # parameters named relative to their module's box
        nodes = list(nodes)
        for i, name in clusters.names.items():
            nodes[i] = nodes[i]._replace(name=name)
    refs = ids if graph.numbered else _refs(ids)
    tips = ids if refs is ids else list(map(_escape, ids))
    roots, bad = frozenset(graph.roots), graph.first_nonfinite
    marked = roots.union(shades, [bad] if bad is not None else [])
    if graph.numbered:  # node i is n{i}: no need to look through the ids
        at: Iterable[int] = sorted(int(node_id[1:]) for node_id in marked)
    else:
        at = compress(range(len(ids)), map(marked.__contains__, ids))
    apart = {i: (ids[i] in roots, shades.get(ids[i]), ids[i] == bad) for i in at}
    full = labels == "full"
    if labels != "short" and not attr_chars:
        attr_chars = FULL_ATTR_CHARS
    out.extend(
        chain.from_iterable(_node_runs(nodes, refs, tips, apart, show_order, attr_chars, full))
    )
    out.extend(f"{line}\n" for line in clusters.lines)
    sources, targets, kinds = graph.edge_columns()
    if refs is not ids:
        ref = dict(zip(ids, refs, strict=True))
        sources = (ref.get(e) or _id(e) for e in sources)
        targets = (ref.get(e) or _id(e) for e in targets)
    ends: Iterable[str] = map(_EDGE_END.__getitem__, kinds)
    if flows:
        ends = map(_edge_end, graph.edges)
    pieces = zip(
        repeat("  "),
        sources,
        repeat(" -> "),
        targets,
        ends,
        strict=False,  # the repeats are endless
    )
    out.extend(chain.from_iterable(pieces))
    out.append("}\n")
    return "".join(out)


_EDGE_END: Final = {"data": ";\n", "saved": _SAVED_EDGE + ";\n"}


_EDGE_LABEL: Final = ' fontname="Helvetica" fontsize=9 fontcolor="#444444"'


def _edge_grads_shown(graph: Graph, edge_grads: bool | None) -> bool:
    if edge_grads is False or graph.numbered:  # a graph still in columns carries no flows
        return False
    return edge_grads is True or len(graph) <= EDGE_GRADS_UP_TO


def _edge_end(edge: Edge) -> str:
    """The end of an edge's line: its label, when a gradient flowed along it."""
    label = edge_label(edge.grad, edge.local)
    if not label:
        return _EDGE_END[edge.kind]
    return f" [label={quote(' ' + label)}{_EDGE_LABEL}];\n"


def _fans_in(graph: Graph) -> bool:
    """Whether some node of a graph small enough to lay out has `_FAN_IN` inputs or more
    (DenseNet's concatenations of every earlier feature map). Its edges are then drawn
    merged where they run side by side (``concentrate``): a bundle per source instead of a
    wall of parallel lines, and, with long edges bundled, a layout in seconds, not minutes
    (a DenseNet-121-sized graph of 488 nodes: 8 s instead of more than 100 s)."""
    return graph.edge_count <= _FAN_IN_CHECKED and graph.fans_in(_FAN_IN)


_FAN_IN: Final = 5
_FAN_IN_CHECKED: Final = 20_000
"""Graphs with more edges are folded before layout, or take minutes anyway: not checked."""


class _Clusters(NamedTuple):
    """The module clusters of a graph, as `_clusters` writes them."""

    lines: list[str]
    """The ``subgraph cluster_m<i>`` statements, nested, one line each."""
    names: dict[int, str]
    """Node index -> the name its label shows: a leaf inside the cluster of the module that
    owns it shows its name relative to that module (``weight`` in ``model.0``)."""


def _clusters(graph: Graph) -> _Clusters:
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
        return _Clusters([], {})
    modules = list(graph.column("module"))
    members: dict[str, list[str]] = {}
    ids = graph.column("id")
    ids = ids if isinstance(ids, list) else list(ids)
    for node_id, module in compress(zip(ids, modules, strict=True), modules):
        members.setdefault(module, []).append(node_id)
    beside, names = _parameters(graph, ids, modules)
    # every prefix of a module path is a module too (named_modules paths)
    paths: set[str] = set()
    for path in members:
        parts = path.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    ordered = sorted(paths, key=lambda p: (p.count("."), p))
    number = {p: i for i, p in enumerate(ordered)}
    children: dict[str, list[str]] = {p: [] for p in ordered}
    tops: list[str] = []
    for path in ordered:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        (children[parent] if parent in children else tops).append(path)
    lines: list[str] = []
    # Iterative pre-order: (path, depth, the path of the box around it); a None path marks
    # where a box closes.
    stack: list[tuple[str | None, int, str]] = [(p, 1, "") for p in reversed(tops)]
    while stack:
        item, depth, outer = stack.pop()
        pad = "  " * depth
        if item is None:
            lines.append(pad + "}")
            continue
        path = item
        # A box that would hold nothing but one other box is drawn as that box, labelled with
        # both names (``encoder.stages``): fewer nested borders, the same information.
        while path not in members and len(children[path]) == 1:
            path = children[path][0]
        label = path[len(outer) + 1 :] if outer else path
        lines.append(
            f"{pad}subgraph cluster_m{number[path]} {{ label={quote(label)} "
            f"tooltip={quote(path)}{_CLUSTER_STYLE}"
        )
        lines.extend(f"{pad}  {_id(node_id)};" for node_id in members.get(path, ()))
        lines.extend(
            f"{pad}  {{ rank=same; {_id(leaf)}; {_id(op)}; }}" for leaf, op in beside.get(path, ())
        )
        stack.append((None, depth, ""))
        stack.extend((child, depth + 1, path) for child in reversed(children[path]))
    return _Clusters(lines, names)


_CLUSTER_STYLE: Final = (
    ' style="rounded,dashed" color="#999999" fontcolor="#555555" fontsize=9 labelloc=t;'
)


def _parameters(
    graph: Graph, ids: list[str], modules: list[str | None]
) -> tuple[dict[str, list[tuple[str, str]]], dict[int, str]]:
    """For the leaves drawn in a module's cluster: module -> (leaf, its only consumer) for
    each leaf whose every edge goes to one node of the same module; and node index -> the
    leaf's name relative to its module, for leaves named inside it."""
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
        return {}, {}
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
    return beside, names


LEAF_RAMP_SET: Final = frozenset(LEAF_RAMP)


def _legend(graph: Graph, shading: Shading, flows: bool = False) -> str:
    """An HTML-like table of the roles in ``graph`` (fixed text), one per row, under
    ``graph.notes``; first, when ops are shaded by gradient, the ramp between the two norms
    its ends stand for; last, when edges are labelled with what flowed along them (``flows``),
    how to read those labels."""
    rows = []
    leaf_shades = not LEAF_RAMP_SET.isdisjoint(shading.fills.values())
    if shading.fills:
        ramp = "".join(f'<td bgcolor="{c}" border="1" width="12"> </td>' for c in GRAD_RAMP)
        if shading.low is not None and shading.high is not None:
            ramp = f"<td>{fmt_float(shading.low)}</td>{ramp}<td>{fmt_float(shading.high)}</td>"
        if NONFINITE in shading.fills.values():
            ramp += f'<td> </td><td bgcolor="{NONFINITE}" border="1" width="12"> </td>'
            ramp += "<td>NaN/Inf</td>"
        rows.append(
            f'<tr><td colspan="2" align="left"><table border="0" cellspacing="1" cellpadding="1">'
            f"<tr>{ramp}</tr></table></td></tr>"
            '<tr><td colspan="2" align="left">op shaded by its gradient norm (log scale)'
            + ("; leaves in blue, on one scale for all calls" if leaf_shades else "")
            + "</td></tr>"
        )
    rows.extend(
        f'<tr><td bgcolor="{LEGEND[r][0]}" border="1" width="24"> </td>'
        f'<td align="left">{html.escape(LEGEND[r][1])}</td></tr>'
        for r in roles_present(graph)
    )
    if flows:
        local = any(e.local is not None for e in graph.edges)
        sample, meaning = ("g (×d)", "; d: the local derivative") if local else ("g", "")
        rows.append(
            f'<tr><td align="right"><font point-size="9">{sample}</font></td><td align="left">'
            f"edge: the gradient passed to the input{meaning}</td></tr>"
        )
    table = f'<table border="0" cellspacing="2" cellpadding="1">{"".join(rows)}</table>'
    if not graph.notes:
        return table
    # The notes (what folding did) go above the legend, escaped: they are data.
    notes = "".join(f'<tr><td align="left">{html.escape(note)}</td></tr>' for note in graph.notes)
    legend = f'<tr><td align="left">{table}</td></tr>'
    return f'<table border="0" cellpadding="2">{notes}{legend}</table>'


def find_dot() -> str | None:
    """Path of the Graphviz `dot` program, or None when it is not installed."""
    return shutil.which("dot")


# Run by the Python that runs gradviz, between fork and `dot`: PR_SET_PDEATHSIG (1) asks Linux
# to SIGKILL the process when its parent dies, even by SIGKILL; the setting survives exec.
# A separate program because preexec_fn is not safe in a process with threads (torch's).
# The parent is the thread that started it, which waits for it in `run_dot`.
_KILLED_WITH_PARENT: Final = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # the parent died before prctl: nobody waits for the output\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def _dot_command(exe: str, fmt: ImageFormat) -> list[str]:
    """The command that runs `dot`: on Linux through `_KILLED_WITH_PARENT`, so that `dot` never
    outlives gradviz; elsewhere `dot` itself (Ctrl-C and timeouts still stop it)."""
    command = [exe, f"-T{fmt}"]
    if sys.platform != "linux" or not sys.executable:
        return command
    return [sys.executable, "-I", "-S", "-c", _KILLED_WITH_PARENT, str(os.getpid()), *command]


def run_dot(source: str, fmt: ImageFormat, *, timeout: float | None = None) -> bytes:
    """Lay out DOT ``source`` with Graphviz `dot` and return the ``fmt`` output.

    `dot` is killed when ``timeout`` passes, on any exception (Ctrl-C, SIGTERM turned into one),
    and on Linux when this process dies, even by SIGKILL.

    Raises:
        GraphvizNotFoundError: `dot` is not installed.
        LayoutTimeoutError: layout took longer than ``timeout`` seconds (the process is killed).
        GradvizError: `dot` failed.
    """
    exe = find_dot()
    if exe is None:
        raise GraphvizNotFoundError(INSTALL_HINT)
    with subprocess.Popen(
        _dot_command(exe, fmt),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            out, errors = proc.communicate(source.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LayoutTimeoutError(
                f"Graphviz layout took longer than {timeout:g} s and was stopped"
            ) from None
        finally:
            if proc.returncode is None:  # timeout, Ctrl-C or another error: stop `dot` now
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        message = errors.decode(errors="replace").strip().splitlines()
        raise GradvizError(f"Graphviz dot failed: {message[-1] if message else proc.returncode}")
    return out


def to_svg(
    graph: Graph,
    *,
    rankdir: str = "TB",
    show_order: bool = False,
    timeout: float | None = None,
    edge_grads: bool | None = None,
) -> str:
    """A self-contained SVG of ``graph``; each node has a tooltip with its details."""
    source = to_dot(graph, rankdir=rankdir, show_order=show_order, edge_grads=edge_grads)
    return run_dot(source, "svg", timeout=timeout).decode()


def to_image(
    graph: Graph,
    fmt: ImageFormat,
    *,
    rankdir: str = "TB",
    show_order: bool = False,
    timeout: float | None = None,
    edge_grads: bool | None = None,
) -> bytes:
    """``graph`` as SVG, PNG or PDF bytes."""
    if fmt not in IMAGE_FORMATS:
        raise GradvizError(f"unknown image format {fmt!r}: use one of {', '.join(IMAGE_FORMATS)}")
    source = to_dot(graph, rankdir=rankdir, show_order=show_order, edge_grads=edge_grads)
    return run_dot(source, fmt, timeout=timeout)
