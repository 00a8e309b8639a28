"""`Graph` -> a Mermaid flowchart, which GitHub, GitLab and MkDocs draw from a ```` ```mermaid ````
block with no Graphviz installed.

It is the DOT picture in Mermaid's words: the legend's colours as ``classDef`` classes, op nodes
shaded by their gradient norm, saved tensors as flags, no-grad inputs dashed, saved-tensor edges
dotted, modules as nested subgraphs, and the legend and notes in a subgraph of their own.

Names are data: every label is a double-quoted Mermaid string in which the characters Mermaid or
HTML would read (``"`` ``#`` ``&`` ``<`` ``>`` and a few more) are written as Mermaid's entity codes
(``#35;`` for ``#``), so a name like ``<script>"];x-->y`` is drawn as that text. Node ids are the
writer's own (``n`` and the node's position), whatever the graph's ids are.

Mermaid refuses a diagram past `MAX_TEXT` characters or `MAX_EDGES` edges (its default
``maxTextSize`` and ``maxEdges``): `fitting.fit_mermaid` folds a graph until its flowchart fits,
and notes it; this module draws the graph it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from ..errors import GradvizError
from ..model import Graph, Node
from .labels import fmt_float, grad_line, subtitle, title
from .style import (
    DARK_SHADES,
    GRAD_RAMP,
    LEGEND,
    NONFINITE,
    Role,
    Shading,
    grad_shades,
    role,
    roles_present,
)

__all__ = ["JOINED", "MAX_EDGES", "MAX_TEXT", "quote", "to_mermaid"]

MAX_EDGES: Final = 500
"""Mermaid's default ``maxEdges``: a flowchart with more edges is not drawn."""
MAX_TEXT: Final = 50_000
"""Mermaid's default ``maxTextSize``, in characters: a longer diagram is not drawn."""

_STROKE: Final = "stroke:#333333"
CLASSES: Final[dict[str, str]] = {
    "output": f"fill:{LEGEND['output'].fill},{_STROKE},stroke-width:2px",
    "leaf": f"fill:{LEGEND['leaf'].fill},{_STROKE}",
    "input": f"fill:{LEGEND['input'].fill},{_STROKE},stroke-dasharray:4 3,color:#555555",
    "op": f"fill:{LEGEND['op'].fill},{_STROKE}",
    "saved": f"fill:{LEGEND['saved'].fill},{_STROKE},color:#6b4a00",
    **{
        f"g{i}": f"fill:{shade},{_STROKE}" + (",color:#ffffff" if shade in DARK_SHADES else "")
        for i, shade in enumerate(GRAD_RAMP)
    },
    "nonfinite": f"fill:{NONFINITE},{_STROKE}",
    "firstbad": "stroke:#d00000,stroke-width:3px",
    "note": "fill:#ffffff,stroke:#999999,color:#333333",
}
"""class name -> Mermaid style: one per legend role (`style.LEGEND`), one per gradient shade
(``g0`` palest .. ``g6``), NaN/Inf, the first NaN's border, and the notes."""

_SHAPES: Final[dict[Role, tuple[str, str]]] = {
    "output": ("(", ")"),
    "leaf": ("(", ")"),
    "input": ("(", ")"),
    "op": ("(", ")"),
    "saved": (">", "]"),
}
"""role -> how its label is bracketed: rounded boxes as in the DOT picture; a saved tensor is a
flag (the DOT picture's note)."""

_SAVED_EDGE: Final = "stroke:#d9a441"
_CLUSTER: Final = "fill:#ffffff,stroke:#999999,color:#555555"
"""Subgraphs (modules, dashed; the legend) as the DOT picture draws clusters."""
_ENTITIES: Final = {c: f"#{ord(c)};" for c in '"#&<>%`\\'}
"""Characters written as Mermaid entity codes inside a label: the quote ends the string, ``#``
starts an entity, ``&<>`` are HTML, ``%`` starts a comment, a backquote a Markdown string."""
JOINED: Final = {"\\n": "\\\u2060n", "ﬂ°": "ﬂ\u2060°", "¶ß": "¶\u2060ß"}
"""Pairs of characters Mermaid reads whatever is done to them (a line break in a label of
several lines; ``&`` and ``;``, its own stand-ins for entities), -> the same with an invisible
word joiner between the two."""
_ESCAPE: Final = str.maketrans({**_ENTITIES, "\r": None})


def quote(text: str) -> str:
    """``text`` as a double-quoted Mermaid label; each line of it one line of the label, and
    a space for no text."""
    for pair, joined in JOINED.items():
        text = text.replace(pair, joined)
    text = text.translate(_ESCAPE)
    # Before parsing, Mermaid drops the last `;` of a line with `style` or `classDef`, then `:`
    # and `#` (meant for style statements): spell those words with an entity.
    text = text.replace("style", "#115;tyle").replace("classDef", "#99;lassDef")
    return '"' + ("<br>".join(text.split("\n")) or " ") + '"'  # Mermaid rejects ""


def _label(lines: Iterable[str]) -> str:
    return quote("\n".join(line for line in lines if line))


def to_mermaid(
    graph: Graph, *, rankdir: str = "TB", legend: bool = True, show_order: bool = False
) -> str:
    """Mermaid flowchart text for ``graph``: same graph, same text.

    Args:
        rankdir: ``TB`` (leaves on top, loss at the bottom) or ``LR``, ``BT``, ``RL``.
        legend: add a subgraph with the colour legend and the graph's notes.
        show_order: prefix each label with the position (``#3``) in which backward ran it.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise GradvizError(f"rankdir must be TB, LR, BT or RL, not {rankdir!r}")
    nodes = graph.nodes
    ref = {node.id: f"n{i}" for i, node in enumerate(nodes)}
    roots = frozenset(graph.roots)
    shading = grad_shades(graph)
    shades = shading.fills
    shade_class = {c: f"g{i}" for i, c in enumerate(GRAD_RAMP)} | {NONFINITE: "nonfinite"}
    used: set[str] = set()

    def statement(node: Node) -> str:
        node_role = role(roots, node)
        cls = shade_class[shades[node.id]] if node.id in shades else node_role
        used.add(cls)
        head = title(node)
        if show_order and node.order is not None:
            head = f"#{node.order} {head}"
        lines = [head, subtitle(node), grad_line(node.grad, returned=node.grad_returned)]
        if node.id == graph.first_nonfinite:
            lines.append("⚠ first NaN/Inf in backward")
        opening, closing = _SHAPES[node_role]
        return f"{ref[node.id]}{opening}{_label(lines)}{closing}:::{cls}"

    body = [f"flowchart {rankdir}"]
    body.extend(_nested(nodes, statement))
    saved_edges: list[str] = []
    for index, (src, dst, _, kind, *_) in enumerate(graph.edge_rows()):  # flows not drawn
        if kind == "saved":
            saved_edges.append(str(index))
        body.append(f"  {ref[src]} {'-.->' if kind == 'saved' else '-->'} {ref[dst]}")
    if saved_edges:
        body.append(f"  linkStyle {','.join(saved_edges)} {_SAVED_EDGE}")
    if graph.first_nonfinite in ref:
        body.append(f"  class {ref[graph.first_nonfinite]} firstbad")
        used.add("firstbad")
    if legend:
        body.extend(_legend(graph, shading, used))
    defs = [f"  classDef {name} {style}" for name, style in CLASSES.items() if name in used]
    return "\n".join([body[0], *defs, *body[1:]]) + "\n"


def _nested(nodes: Iterable[Node], statement: Callable[[Node], str]) -> list[str]:
    """One line per node, those made inside a module in nested subgraphs (``model`` holds
    ``model.0``), in the order of their paths."""
    members: dict[tuple[str, ...], list[Node]] = {(): []}
    for node in nodes:
        path = tuple(node.module.split(".")) if node.module else ()
        for i in range(len(path) + 1):  # every prefix of a module path is a module too
            members.setdefault(path[:i], [])
        members[path].append(node)
    lines = [f"  {statement(node)}" for node in members.pop(())]
    number = {path: i for i, path in enumerate(sorted(members))}
    open_paths: list[tuple[str, ...]] = []
    styles: list[str] = []
    for path in sorted(members):  # sorted paths are in pre-order: a module before its children
        while open_paths and path[: len(open_paths[-1])] != open_paths[-1]:
            open_paths.pop()
            lines.append("  " * (len(open_paths) + 1) + "end")
        pad = "  " * (len(open_paths) + 1)
        lines.append(f"{pad}subgraph m{number[path]}[{quote('.'.join(path))}]")
        styles.append(f"  style m{number[path]} {_CLUSTER},stroke-dasharray:4 3")
        lines.extend(f"{pad}  {statement(node)}" for node in members[path])
        open_paths.append(path)
    while open_paths:
        open_paths.pop()
        lines.append("  " * (len(open_paths) + 1) + "end")
    return lines + styles


def _legend(graph: Graph, shading: Shading, used: set[str]) -> list[str]:
    """A subgraph with the notes, one node per role present, and the gradient shades."""
    lines = ['  subgraph legend["legend"]']
    for i, note in enumerate(graph.notes):
        lines.append(f"    legend_note{i}[{quote(note)}]:::note")
        used.add("note")
    if shading.fills:
        low = "" if shading.low is None else f" {fmt_float(shading.low)}"
        high = "" if shading.high is None else f" {fmt_float(shading.high)}"
        lines.append(f"    legend_g0[{quote(f'op, gradient norm{low}')}]:::g0")
        lines.append(f"    legend_g6[{quote(f'op, gradient norm{high} (log scale)')}]:::g6")
        used.update(("g0", "g6"))
    for shown in roles_present(graph):
        opening, closing = _SHAPES[shown]
        lines.append(
            f"    legend_{shown}{opening}{quote(LEGEND[shown].meaning)}{closing}:::{shown}"
        )
        used.add(shown)
    lines.extend(("  end", f"  style legend {_CLUSTER}"))
    return lines
