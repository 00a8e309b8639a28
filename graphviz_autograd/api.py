"""The Python entry points: each takes output tensors or an already built `Graph`."""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias

from .errors import GradvizError, LayoutTimeoutError
from .files import write_atomic
from .model import Graph
from .renderers import dot as _dot
from .renderers import html as _html
from .renderers import json as _json
from .renderers import layout as _layout
from .renderers import mermaid as _mermaid
from .renderers import tree as _tree
from .transform.collapse import collapse_modules, module_depth
from .transform.fold import DEFAULT_MAX_NODES, fold, fold_fitting

if TYPE_CHECKING:
    from .trace.walk import Outputs

__all__ = [
    "DEFAULT_LAYOUT_TIMEOUT",
    "FORMATS",
    "Explorer",
    "Format",
    "Picture",
    "Rendering",
    "draw",
    "explore",
    "fold_for",
    "format_for",
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_mermaid",
    "to_svg",
]

Format: TypeAlias = Literal["svg", "png", "pdf", "dot", "json", "html", "mermaid"]
FORMATS: Final[dict[str, Format]] = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".json": "json",
    ".html": "html",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}
"""File extension -> output format."""


def _graph(source: Graph | Outputs, walk_options: Mapping[str, Any]) -> Graph:
    if isinstance(source, Graph):
        if walk_options:
            raise GradvizError(
                f"{', '.join(sorted(walk_options))}: walk options need tensors, not a built Graph"
            )
        return source
    from .trace.walk import build_graph  # torch is imported when tensors are first walked

    return build_graph(source, **walk_options)


def _split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    walk_keys = {"params", "show_saved", "show_attrs", "show_inputs", "op_shapes"}
    render_keys = {
        *("rankdir", "timeout", "show_order", "max_nodes", "depth", "edge_grads", "scale"),
        "labels",
    }
    unknown = set(options) - walk_keys - render_keys
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    walk = {k: v for k, v in options.items() if k in walk_keys}
    return walk, {k: v for k, v in options.items() if k in render_keys}


def to_dot(source: Graph | Outputs, **options: Any) -> str:
    """DOT text for a `Graph` or for the graph behind output tensors."""
    walk, rend = _split(options)
    return encode(_graph(source, walk), "dot", **rend)  # type: ignore[return-value]


def to_svg(source: Graph | Outputs, **options: Any) -> str:
    """SVG text (needs Graphviz `dot`)."""
    walk, rend = _split(options)
    return encode(_graph(source, walk), "svg", **rend)  # type: ignore[return-value]


def to_json(source: Graph | Outputs, **options: Any) -> str:
    """JSON text, schema ``gradviz-graph`` version 1."""
    walk, rend = _split(options)
    return encode(_graph(source, walk), "json", **rend)  # type: ignore[return-value]


def to_mermaid(source: Graph | Outputs, **options: Any) -> str:
    """Mermaid flowchart text (GitHub and MkDocs draw it), folded to fit Mermaid's limits
    (500 edges, 50,000 characters) unless ``max_nodes`` is given."""
    walk, rend = _split(options)
    return encode(_graph(source, walk), "mermaid", **rend)  # type: ignore[return-value]


def print_tree(source: Graph | Outputs, *, console: Any = None, **options: Any) -> None:
    """Print the graph as a tree in the terminal, from the outputs toward the leaves.

    Graphs past ``max_nodes`` (default 1,500; 0 never) are folded first, as for pictures.
    """
    walk, rend = _split(options)
    graph = _graph(source, walk)
    if rend.get("depth") is not None:
        graph = collapse_modules(graph, rend["depth"])
    _tree.print_graph_tree(fold_for(graph, "tree", rend.get("max_nodes")), console=console)


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> Format:
    """The output format named by ``fmt``, else by the extension of ``path``."""
    if fmt is not None:
        if fmt not in FORMATS.values():
            raise GradvizError(
                f"unknown format {fmt!r}: use svg, png, pdf, dot, json, html or mermaid"
            )
        return fmt  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise GradvizError(
            f"cannot tell the format of {os.fspath(path)!r}: use a .svg, .png, .pdf, .dot, .gv, "
            ".json, .html or .mmd name, or pass format="
        )
    return FORMATS[suffix]


def fold_budget(fmt: Format | Literal["tree"], max_nodes: int | None = None) -> int:
    """The node budget a graph shown as ``fmt`` is folded to: ``max_nodes`` when given, else
    `DEFAULT_MAX_NODES` for pictures, the explorer (which opens folded and unfolds in the page)
    and the terminal tree, and 0 (never fold) for DOT and JSON, which keep the full data."""
    if max_nodes is not None:
        return max_nodes
    return DEFAULT_MAX_NODES if fmt in (*_layout.IMAGE_FORMATS, "html", "tree") else 0


DEFAULT_LAYOUT_TIMEOUT: Final = 20.0
"""Seconds a picture may spend in Graphviz layout, retries included (``timeout=``,
``--layout-timeout``; 0: no limit)."""

_SMALLEST_RETRY: Final = 50
"""A layout that times out is retried folded to a quarter of the budget, down to this many
nodes."""


class Picture(NamedTuple):
    """A picture made by `draw`, with the graph it shows."""

    data: str | bytes
    """SVG text, or PNG/PDF bytes."""
    graph: Graph
    """The graph laid out: folded, its modules collapsed; its notes say how."""
    redrawn: tuple[str, ...]
    """What was done after a layout took too long, one line per retry (empty: none)."""
    chosen_depth: int | None
    """The module depth `draw` chose (modules deeper drawn as one node); None when ``depth``
    was given or none was needed."""


def draw(
    graph: Graph,
    fmt: _layout.ImageFormat = "svg",
    *,
    max_nodes: int | None = None,
    depth: int | None = None,
    timeout: float | None = None,
    rankdir: str = "TB",
    show_order: bool = False,
    status: Callable[[str], None] | None = None,
    edge_grads: bool | None = None,
    scale: tuple[float, float] | None = None,
    labels: _dot.Labels = "short",
) -> Picture:
    """Lay ``graph`` out as SVG, PNG or PDF, within a deadline, folding it to fit first.

    - ``max_nodes`` (default `DEFAULT_MAX_NODES`; 0 never): fold to at most this many nodes and
      a layout size (long edges count too: `fold.fits`) that Graphviz lays out in seconds.
    - ``depth``: draw each module nested deeper than this as one node. When not given and the
      folded graph is still too big, the deepest depth that fits is chosen, and a note on the
      picture says so.
    - ``timeout`` (default `DEFAULT_LAYOUT_TIMEOUT` s; 0 no limit) bounds the whole layout.
      Unless ``max_nodes`` is 0, the first layout gets half of it; if it does not finish, the
      graph is folded to a quarter of the budget (and, without ``depth``, one module level
      shallower) and laid out again in half of what is left, and so on; each retry is noted on
      the picture and listed in `Picture.redrawn`.
    - ``status``, when given, is called with a line saying what is going on (a spinner's text).

    Raises:
        LayoutTimeoutError: no layout finished in time; its ``dot`` attribute is the DOT of the
            last graph tried, to lay out without a deadline.
        GraphvizNotFoundError, GradvizError: as `renderers.layout.run_dot`.
    """
    if timeout is not None and timeout < 0:
        raise GradvizError(f"timeout must be 0 (no limit) or positive, not {timeout:g}")
    say = status or (lambda text: None)
    budget = fold_budget(fmt, max_nodes)
    total = DEFAULT_LAYOUT_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    shown, level = _fitted(graph, budget, depth, say)
    redrawn: list[str] = []
    while True:
        retry = _coarser(graph, shown, budget, level, depth is not None)
        left = total - (time.monotonic() - started) if total else None
        limit = None if left is None else left / 2 if retry else left
        source = _dot.to_dot(
            shown,
            rankdir=rankdir,
            show_order=show_order,
            edge_grads=edge_grads,
            scale=scale,
            labels=labels,
        )
        say(f"laying out {len(shown):,} nodes with Graphviz dot")
        try:
            data = _layout.run_dot(source, fmt, timeout=limit)
            text = data.decode() if fmt == "svg" else data
            return Picture(text, shown, tuple(redrawn), None if level == depth else level)
        except LayoutTimeoutError as exc:
            if retry is None:
                tries = ""
                if redrawn:
                    tries = f" in {len(redrawn) + 1} tries, the last of {len(shown):,} nodes,"
                raise LayoutTimeoutError(
                    f"Graphviz layout took longer than {total:g} s{tries} and was stopped", source
                ) from exc
            budget, level = retry
            said = (
                f"layout of {len(shown):,} nodes took over {limit:.1f} s: folded to at most "
                f"{budget:,} nodes"
            )
            if level != depth:
                said += f", modules deeper than {level} levels as one node"
            say(said)
            redrawn.append(said)
            shown, level = _fitted(graph, budget, level, say, chosen=level != depth)
            shown = shown.replace(notes=(*shown.notes, said))


_CHOSEN: Final = "chosen to lay out in seconds; --depth N chooses"


def _fitted(
    graph: Graph,
    budget: int,
    depth: int | None,
    say: Callable[[str], None],
    *,
    chosen: bool = False,
) -> tuple[Graph, int | None]:
    """``graph`` folded to ``budget``, with modules deeper than ``depth`` collapsed (a
    ``chosen`` depth says so). Without a depth, when the graph does not fit, modules are
    collapsed at the deepest depth that makes it fit (or 1). Returns the depth used too."""
    if depth is not None:
        graph = (
            collapse_modules(graph, depth, hint=_CHOSEN)
            if chosen
            else collapse_modules(graph, depth)
        )
    if budget and len(graph) > budget:
        say(f"folding {len(graph):,} nodes")
    folded, fitting = fold_fitting(graph, max_nodes=budget)
    if depth is not None or fitting:
        return folded, depth
    for level in range(module_depth(graph) - 1, 0, -1):
        say(f"folding {len(graph):,} nodes, modules deeper than {level} levels as one node")
        folded, fitting = fold_fitting(
            collapse_modules(graph, level, hint=_CHOSEN), max_nodes=budget
        )
        if fitting or level == 1:
            return folded, level
    return folded, None  # no module nested in another


def _coarser(
    graph: Graph, shown: Graph, budget: int, depth: int | None, fixed: bool
) -> tuple[int, int | None] | None:
    """The (budget, depth) to retry with after ``shown`` took too long: a quarter of the budget
    and, unless the depth is ``fixed`` (given), modules collapsed one level shallower. None when
    ``budget`` is 0 (never fold) or nothing can be folded further."""
    if not budget:
        return None
    smaller = max(_SMALLEST_RETRY, min(budget, len(shown)) // 4)
    shallower = depth
    deepest = 0 if fixed else module_depth(graph)
    if deepest >= 2:
        shallower = max(1, (depth or deepest) - 1)
    if smaller >= len(shown) and shallower == depth:
        return None
    return smaller, shallower


def fold_for(graph: Graph, fmt: Format | Literal["tree"], max_nodes: int | None = None) -> Graph:
    """``graph`` folded as it is shown as ``fmt``: to `fold_budget`; and Mermaid, unless
    ``max_nodes`` is given, further, until it fits Mermaid's limits (`mermaid.fit`)."""
    graph = fold(graph, max_nodes=fold_budget(fmt, max_nodes))
    if fmt == "mermaid" and max_nodes is None:
        return _mermaid.fit(graph)
    return graph


def encode(
    graph: Graph, fmt: Format, *, max_nodes: int | None = None, **render_options: Any
) -> str | bytes:
    """``graph`` in format ``fmt``: text for svg/dot/json, bytes for png/pdf.

    ``max_nodes``: fold the graph to at most this many nodes first (0: never). By default,
    pictures (svg/png/pdf) are folded to `DEFAULT_MAX_NODES`, so that layout takes seconds,
    and laid out by `draw` (with its deadline and retries); Mermaid is folded until it fits
    Mermaid's limits; DOT and JSON keep the full graph. The explorer (html) gets the full graph
    and opens folded.
    """
    if fmt in _layout.IMAGE_FORMATS:
        return draw(graph, fmt, max_nodes=max_nodes, **render_options).data
    depth = render_options.pop("depth", None)
    if depth is not None:
        graph = collapse_modules(graph, depth)
    render_options.pop("timeout", None)  # only a layout has one
    if fmt in ("html", "mermaid"):  # no edge labels; each shades on its own scale
        render_options.pop("edge_grads", None)
        render_options.pop("scale", None)
        render_options.pop("labels", None)
    if fmt == "html":
        return _html.to_html(graph, max_nodes=fold_budget(fmt, max_nodes), **render_options)
    if fmt == "mermaid":
        return _mermaid.to_mermaid(fold_for(graph, fmt, max_nodes), **render_options)
    graph = fold_for(graph, fmt, max_nodes)
    if fmt == "dot":
        return _dot.to_dot(graph, **render_options)
    return _json.to_json(graph)


def write_dot_beside(path: str | os.PathLike[str], error: LayoutTimeoutError) -> Path | None:
    """Write the DOT a timed-out layout left (``error.dot``) next to ``path``, as ``.dot``;
    None when there is none, or ``path`` is a DOT file already."""
    target = Path(path).with_suffix(".dot")
    if error.dot is None or target == Path(path):
        return None
    return write_atomic(target, error.dot)


class Rendering:
    """A graph ready to show: displays inline in Jupyter, or `save()` it to a file."""

    def __init__(self, graph: Graph, **render_options: Any) -> None:
        self.graph = graph
        self._options = render_options

    @property
    def dot(self) -> str:
        """The DOT source."""
        return encode(self.graph, "dot", **self._options)  # type: ignore[return-value]

    def svg(self) -> str:
        """The SVG (needs Graphviz `dot`)."""
        return encode(self.graph, "svg", **self._options)  # type: ignore[return-value]

    def save(self, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """Write to ``path`` atomically; the format comes from the extension unless given."""
        return _save(self.graph, path, format_for(path, format), self._options)

    def explore(self) -> Explorer:
        """The explorer page, which Jupyter displays inline (see `explore`)."""
        return Explorer(encode(self.graph, "html", **self._options))  # type: ignore[arg-type]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": repr(self)}
        try:
            bundle["image/svg+xml"] = self.svg()
        except GradvizError as exc:  # no `dot`: the explorer lays the graph out by itself
            bundle["text/plain"] = f"{self!r}\n{exc}"
            bundle["text/html"] = self.explore()._repr_html_()
        return bundle

    def __repr__(self) -> str:
        # Jupyter shows the picture; a plain REPL shows this: say how to see it there.
        g = self.graph
        return (
            f"<gradviz Rendering: {len(g)} nodes, {g.edge_count} edges; "
            '.save("graph.svg") writes it (.png .pdf .dot .json .html too), Jupyter shows it>'
        )


class Explorer:
    """The explorer page: Jupyter shows it inline (in a sandboxed frame); `save()` writes it."""

    def __init__(self, page: str) -> None:
        self.html = page

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically."""
        return write_atomic(path, self.html)

    def _repr_html_(self) -> str:
        # A frame of its own: the page's ids, styles and scripts stay out of the notebook's.
        return (
            f'<iframe srcdoc="{html.escape(self.html)}" sandbox="allow-scripts" '
            'style="width: 100%; height: 640px; border: 1px solid #ddd"></iframe>'
        )

    def __repr__(self) -> str:
        return f"<gradviz Explorer: {len(self.html.encode()):,} bytes of HTML>"


def explore(source: Graph | Outputs, **options: Any) -> Explorer:
    """The explorer for the graph behind ``source``: shown inline in Jupyter; ``.save(path)``
    writes it (as ``render(source, "graph.html")`` does). Options as for `render`."""
    walk, rend = _split(options)
    return Rendering(_graph(source, walk), **rend).explore()


def render(
    source: Graph | Outputs,
    path: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    **options: Any,
) -> Path | Rendering:
    """Draw the graph behind ``source`` (output tensors, or a `Graph`).

    With ``path``, writes the file atomically (format from the extension: .svg .png .pdf
    .dot/.gv .json .html, or ``format=``; .html is the explorer, see `explore`) and returns its
    `Path`. Without, returns a `Rendering`, which Jupyter displays inline.

    Options: ``params``, ``show_saved``, ``show_attrs``, ``show_inputs`` (walk, see
    `build_graph`); ``rankdir``, ``show_order``, ``edge_grads`` (label each edge with the
    gradient that flowed along it; default: graphs of at most 40 nodes), ``labels`` (``"attrs"``:
    attributes in the labels; ``"full"``: also gradient values and source lines), ``timeout``
    (layout seconds, default 20, 0 no limit), ``max_nodes`` (fold pictures to at most this many
    nodes; default 1,500, 0 never; DOT and JSON are folded only when it is given), ``depth`` (draw
    modules nested deeper as one node) for drawing: pictures are made by `draw`. When no layout
    finishes in time, the DOT is written next to ``path`` (``g.svg`` -> ``g.dot``) and
    `LayoutTimeoutError` names it.
    """
    walk, rend = _split(options)
    graph = _graph(source, walk)
    if path is None:
        if format is not None:
            raise GradvizError("format= needs a path; without one, render() returns a Rendering")
        return Rendering(graph, **rend)
    return _save(graph, path, format_for(path, format), rend)


def _save(graph: Graph, path: str | os.PathLike[str], fmt: Format, options: Any) -> Path:
    """Write ``graph`` to ``path``; when layout times out, write its DOT beside it and say so."""
    try:
        data = encode(graph, fmt, **options)
    except LayoutTimeoutError as exc:
        beside = write_dot_beside(path, exc)
        if beside is None:
            raise
        raise LayoutTimeoutError(f"{exc}; wrote its DOT to {beside}", exc.dot) from None
    return write_atomic(path, data)
