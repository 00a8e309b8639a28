"""`Graph` -> DOT text, and DOT -> SVG/PNG/PDF through the Graphviz `dot` program.

DOT is written in one pass with one quoting function (`quote`): every label is a double-quoted
DOT string, never an HTML label, so a name like ``<script>"];x->y;`` stays inert text.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from typing import Final, Literal

from ..errors import GradvizError, GraphvizNotFoundError, LayoutTimeoutError
from ..labels import facts, grad_line, subtitle, title
from ..model import Graph, Node
from ..style import (
    DARK_SHADES,
    GRAD_RAMP,
    LEGEND,
    NONFINITE,
    Role,
    grad_shades,
    role,
    roles_present,
)

__all__ = [
    "IMAGE_FORMATS",
    "NODE_STYLE",
    "find_dot",
    "quote",
    "run_dot",
    "to_dot",
    "to_image",
    "to_svg",
]

ImageFormat = Literal["svg", "png", "pdf"]
IMAGE_FORMATS: Final[tuple[ImageFormat, ...]] = ("svg", "png", "pdf")

NODE_STYLE: Final[dict[Role, str]] = {
    "output": 'style="rounded,filled,bold"',
    "leaf": 'style="rounded,filled"',
    "input": 'style="rounded,filled,dashed" fontcolor="#555555"',
    "op": 'style="rounded,filled"',
    "saved": 'style="filled" shape=note fontcolor="#6b4a00"',
}
"""role -> extra DOT node attributes; fill colours come from `LEGEND`."""

_SAVED_EDGE: Final = ' [style=dashed color="#d9a441" arrowhead=odot]'

INSTALL_HINT: Final = (
    "Graphviz `dot` was not found on PATH: install it (Debian/Ubuntu: apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz), or write DOT or JSON instead"
)


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string; newlines become centred line breaks."""
    return '"' + _escape(text) + '"'


def _escape(text: str) -> str:
    """The inside of `quote`."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "")
    return text.replace("\n", "\\n")


def _id(node_id: str) -> str:
    """A node id as a DOT ID: bare when it is a plain identifier (``n12``), else quoted."""
    return node_id if node_id.isidentifier() and node_id.isascii() else quote(node_id)


def _describe(
    node: Node, roots: frozenset[str], fill: str | None, first_bad: bool, show_order: bool
) -> tuple[str, str]:
    """The quoted label, and the rest of the node statement after the tooltip's ``id: ``."""
    r = role(roots, node)
    if fill is None:
        fill = LEGEND[r][0]
    extra = ' fontcolor="white"' if fill in DARK_SHADES else ""
    if first_bad:
        extra += ' color="#d00000" penwidth=3'
    label = quote(_label(node, show_order=show_order, first_bad=first_bad))
    tooltip = _escape("\n".join([title(node), *facts(node)]))
    return label, f'{tooltip}" fillcolor="{fill}" {NODE_STYLE[r]}{extra}'


def _label(node: Node, *, show_order: bool, first_bad: bool) -> str:
    head = title(node)
    if show_order and node.order is not None:
        head = f"#{node.order} {head}"
    lines = [head, subtitle(node), grad_line(node.grad)]
    if first_bad:
        lines.append("⚠ first NaN/Inf in backward")
    return "\n".join(line for line in lines if line)


def to_dot(
    graph: Graph, *, rankdir: str = "TB", legend: bool = True, show_order: bool = False
) -> str:
    """DOT source for ``graph``: same graph, same bytes.

    Op nodes that carry a gradient (captured graphs) are shaded by its norm on a log scale;
    NaN/Inf gradients are red, and the first of them in backward order has a thick red border.

    Args:
        rankdir: ``TB`` (leaves on top, loss at the bottom) or ``LR``, ``BT``, ``RL``.
        legend: draw the colour legend for the roles present under the graph.
        show_order: prefix each label with the position (``#3``) in which backward ran it.
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise GradvizError(f"rankdir must be TB, LR, BT or RL, not {rankdir!r}")
    roots = frozenset(graph.roots)
    shades = grad_shades(graph)
    notes = quote("\n".join(graph.notes)) if graph.notes and not legend else ""
    out = [
        "digraph gradviz {",
        f'  graph [rankdir={rankdir} fontname="Helvetica" fontsize=10 ranksep=0.35 nodesep=0.25'
        + (f" labelloc=b labeljust=l label=<{_legend(graph, shades)}>" if legend else "")
        + (f" labelloc=b label={notes}" if notes else "")
        + "];",
        '  node [shape=box fontname="Helvetica" fontsize=10 height=0.3 margin="0.12,0.04" '
        "penwidth=0.8];",
        "  edge [arrowsize=0.6 penwidth=0.8];",
    ]
    # Nodes that differ only in id (the leaves of a wide graph, the ops of a long chain, the
    # layers of a model before backward) share everything else: describe each kind once.
    memo: dict[tuple[object, ...], tuple[str, str]] = {}
    first_nonfinite = graph.first_nonfinite
    refs: dict[str, str] = {}  # node id -> the DOT ID that names it
    for node in graph.nodes:
        node_id = node[0]
        fill = shades.get(node_id)
        first_bad = node_id == first_nonfinite
        key = (node[1:], node_id in roots, fill, first_bad)
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _describe(node, roots, fill, first_bad, show_order)
        refs[node_id] = ref = _id(node_id)
        tip = node_id if ref is node_id else _escape(node_id)
        out.append(f'  {ref} [label={hit[0]} tooltip="{tip}: {hit[1]}];')
    out.extend(_clusters(graph))
    for src, dst, _, kind in graph.edges:
        saved = _SAVED_EDGE if kind == "saved" else ""
        out.append(f"  {refs.get(src) or _id(src)} -> {refs.get(dst) or _id(dst)}{saved};")
    out.append("}")
    return "\n".join(out) + "\n"


def _clusters(graph: Graph) -> list[str]:
    """Nested ``cluster`` subgraphs, one per module path (``model``, ``model.0``, ...), each
    listing the nodes made directly inside it. Empty when no node carries a module."""
    members: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.module:
            members.setdefault(node.module, []).append(node.id)
    if not members:
        return []
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
    # Iterative pre-order; a None marks where a cluster closes.
    stack: list[tuple[str | None, int]] = [(p, 1) for p in reversed(tops)]
    while stack:
        item, depth = stack.pop()
        pad = "  " * depth
        if item is None:
            lines.append(pad + "}")
            continue
        path = item
        lines.append(
            f"{pad}subgraph cluster_m{number[path]} {{ label={quote(path)} "
            'style="rounded,dashed" color="#999999" fontcolor="#555555" fontsize=9 labelloc=t;'
        )
        lines.extend(f"{pad}  {node_id};" for node_id in members.get(path, ()))
        stack.append((None, depth))
        stack.extend((child, depth + 1) for child in reversed(children[path]))
    return lines


def _legend(graph: Graph, shades: dict[str, str]) -> str:
    """An HTML-like table of the roles in ``graph`` (fixed text), under ``graph.notes``."""
    ramp = ""
    if shades:
        ramp = "".join(f'<td bgcolor="{c}" border="1"> </td>' for c in GRAD_RAMP) + (
            '<td align="left">op shaded by its gradient norm (log scale)</td>'
        )
        if NONFINITE in shades.values():
            ramp += f'<td bgcolor="{NONFINITE}" border="1"> </td><td align="left">NaN/Inf</td>'
    cells = ramp + "".join(
        f'<td bgcolor="{LEGEND[r][0]}" border="1"> </td>'
        f'<td align="left">{html.escape(LEGEND[r][1])}</td>'
        for r in roles_present(graph)
    )
    table = f'<table border="0" cellspacing="4" cellpadding="2"><tr>{cells}</tr></table>'
    if not graph.notes:
        return table
    # The notes (what folding did) go above the legend, escaped: they are data.
    rows = "".join(f'<tr><td align="left">{html.escape(note)}</td></tr>' for note in graph.notes)
    return f'<table border="0" cellpadding="2">{rows}<tr><td>{table}</td></tr></table>'


def find_dot() -> str | None:
    """Path of the Graphviz `dot` program, or None when it is not installed."""
    return shutil.which("dot")


def run_dot(source: str, fmt: ImageFormat, *, timeout: float | None = None) -> bytes:
    """Lay out DOT ``source`` with Graphviz `dot` and return the ``fmt`` output.

    Raises:
        GraphvizNotFoundError: `dot` is not installed.
        LayoutTimeoutError: layout took longer than ``timeout`` seconds (the process is killed).
        GradvizError: `dot` failed.
    """
    exe = find_dot()
    if exe is None:
        raise GraphvizNotFoundError(INSTALL_HINT)
    with subprocess.Popen(
        [exe, f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
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
    graph: Graph, *, rankdir: str = "TB", show_order: bool = False, timeout: float | None = None
) -> str:
    """A self-contained SVG of ``graph``; each node has a tooltip with its details."""
    source = to_dot(graph, rankdir=rankdir, show_order=show_order)
    return run_dot(source, "svg", timeout=timeout).decode()


def to_image(
    graph: Graph,
    fmt: ImageFormat,
    *,
    rankdir: str = "TB",
    show_order: bool = False,
    timeout: float | None = None,
) -> bytes:
    """``graph`` as SVG, PNG or PDF bytes."""
    if fmt not in IMAGE_FORMATS:
        raise GradvizError(f"unknown image format {fmt!r}: use one of {', '.join(IMAGE_FORMATS)}")
    return run_dot(to_dot(graph, rankdir=rankdir, show_order=show_order), fmt, timeout=timeout)
