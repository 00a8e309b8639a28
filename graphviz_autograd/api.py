"""The Python entry points: each takes output tensors or an already built `Graph`.

Their keyword options are sorted once, by `_options`, into typed values: `WalkKeywords` (how
tensors are walked into a graph) and `renderers.options.DrawOptions` (how the graph is drawn),
which are handed down as they are; the drawing itself is `renderers.document.encode`."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .errors import GradvizError, LayoutTimeoutError
from .files import write_atomic
from .history import History
from .model import Graph
from .renderers.document import encode
from .renderers.fitting import tree_shown
from .renderers.formats import Format, resolve
from .renderers.marks import Mark
from .renderers.options import DRAW_KEYS, DrawOptions
from .renderers.picture import write_dot_beside
from .renderers.steps import run_page
from .renderers.tree import print_graph_tree
from .trace.calls import Capture
from .transform.flow import Flow
from .transform.flow import flow as flow_of

if TYPE_CHECKING:
    from .doctor.findings import Finding
    from .trace.walk import Outputs

__all__ = [
    "Explorer",
    "Rendering",
    "WalkKeywords",
    "explore",
    "finding_marks",
    "flow",
    "format_for",
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_mermaid",
    "to_svg",
]


@dataclass(frozen=True, slots=True)
class WalkKeywords:
    """The walk options the entry points take: `build_graph`'s, with its defaults."""

    params: Mapping[str, Any] | None = None
    """``{name: tensor}`` naming the tensors met."""
    show_saved: bool = False
    show_attrs: bool = False
    show_inputs: bool = False
    op_shapes: bool | None = None


_WALK_KEYS: Final = frozenset(field.name for field in fields(WalkKeywords))


@dataclass(frozen=True, slots=True)
class _Options:
    """An entry point's keyword options, sorted by concern."""

    walk: WalkKeywords
    walk_given: tuple[str, ...]
    """The walk options given by name, sorted: a built `Graph` takes none."""
    draw: DrawOptions
    findings: tuple[Finding, ...] | None = None
    """``findings=``: the doctor's findings to draw on the graph (`finding_marks`)."""

    def draw_for(self, graph: Graph) -> DrawOptions:
        """The draw options for ``graph``, with the marks of the findings about it."""
        if self.findings is None:
            return self.draw
        return replace(self.draw, marks=finding_marks(self.findings, graph))


def _options(keywords: Mapping[str, Any]) -> _Options:
    """``keywords`` sorted into walk and draw options.

    Raises:
        TypeError: a keyword is neither.
    """
    unknown = set(keywords) - _WALK_KEYS - DRAW_KEYS - {"findings"}
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    walk = {key: value for key, value in keywords.items() if key in _WALK_KEYS}
    draw = {key: value for key, value in keywords.items() if key in DRAW_KEYS}
    findings = keywords.get("findings")
    return _Options(
        WalkKeywords(**walk),
        tuple(sorted(walk)),
        DrawOptions(**draw),
        None if findings is None else tuple(findings),
    )


def finding_marks(findings: Iterable[Finding], graph: Graph) -> tuple[Mark, ...]:
    """The doctor's ``findings`` as marks to draw on ``graph`` (the recorded graph of the call
    they are about): each with the nodes it concerns, found by id (when the node with that id
    is the same op), else by op and the line that made it, and the leaves named in its
    ``params``."""
    nodes = graph.nodes
    by_id = {node.id: node for node in nodes}
    made_at: dict[tuple[str | None, str, int], list[str]] = {}
    leaves: dict[str, list[str]] = {}
    for node in nodes:
        if node.source is not None:
            made_at.setdefault((node.op, node.source.file, node.source.line), []).append(node.id)
        if node.kind == "leaf" and node.name:
            leaves.setdefault(node.name, []).append(node.id)
    marks = []
    for finding in findings:
        concerned: list[str] = []
        for ref in finding.nodes:
            known = by_id.get(ref.id) if ref.id is not None else None
            if known is not None and (known.op == ref.op or known.kind == ref.op == "leaf"):
                concerned.append(known.id)
            elif ref.source is not None:
                concerned += made_at.get((ref.op, ref.source.file, ref.source.line), ())
        for name in finding.params:
            concerned += leaves.get(name, ())
        marks.append(
            Mark(
                finding.code,
                finding.severity,
                finding.message,
                finding.hint,
                tuple(dict.fromkeys(concerned)),
                finding.source,
            )
        )
    return tuple(marks)


def _graph(source: Graph | Outputs, options: _Options) -> Graph:
    if isinstance(source, Graph):
        if options.walk_given:
            raise GradvizError(
                f"{', '.join(options.walk_given)}: walk options need tensors, not a built Graph"
            )
        return source
    from .trace.walk import build_graph  # torch is imported when tensors are first walked

    walk = options.walk
    return build_graph(
        source,
        params=walk.params,
        show_saved=walk.show_saved,
        show_attrs=walk.show_attrs,
        show_inputs=walk.show_inputs,
        op_shapes=walk.op_shapes,
    )


def _text(source: Graph | Outputs, fmt: Format, keywords: Mapping[str, Any]) -> str:
    options = _options(keywords)
    graph = _graph(source, options)
    return encode(graph, fmt, options.draw_for(graph)).data  # type: ignore[return-value]


def to_dot(source: Graph | Outputs, **options: Any) -> str:
    """DOT text for a `Graph` or for the graph behind output tensors."""
    return _text(source, "dot", options)


def to_svg(source: Graph | Outputs, **options: Any) -> str:
    """SVG text (needs Graphviz `dot`)."""
    return _text(source, "svg", options)


def to_json(source: Graph | Outputs, **options: Any) -> str:
    """JSON text, schema ``gradviz-graph`` version 1."""
    return _text(source, "json", options)


def to_mermaid(source: Graph | Outputs, **options: Any) -> str:
    """Mermaid flowchart text (GitHub and MkDocs draw it), folded to fit Mermaid's limits
    (500 edges, 50,000 characters) unless ``max_nodes`` is given."""
    return _text(source, "mermaid", options)


def print_tree(source: Graph | Outputs, *, console: Any = None, **options: Any) -> None:
    """Print the graph as a tree in the terminal, from the outputs toward the leaves.

    Graphs past ``max_nodes`` (default 1,500; 0 never) are folded first, as for pictures.
    """
    sorted_options = _options(options)
    draw = sorted_options.draw
    graph = tree_shown(_graph(source, sorted_options), max_nodes=draw.max_nodes, depth=draw.depth)
    print_graph_tree(
        graph,
        console=console,
        full=draw.labels == "full",
        show_order=draw.show_order,
        edge_grads=draw.edge_grads is not False,
    )


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> Format:
    """The output format named by ``fmt``, else by the extension of ``path``."""
    found = resolve(path, fmt)
    if found is None:
        raise GradvizError(
            f"cannot tell the format of {os.fspath(path)!r}: use a .svg, .png, .pdf, .dot, .gv, "
            ".json, .html or .mmd name, or pass format="
        )
    return found


class Rendering:
    """A graph ready to show: displays inline in Jupyter, or `save()` it to a file."""

    def __init__(self, graph: Graph, **render_options: Any) -> None:
        self.graph = graph
        self._options = DrawOptions(**render_options)

    @property
    def dot(self) -> str:
        """The DOT source."""
        return encode(self.graph, "dot", self._options).data  # type: ignore[return-value]

    def svg(self) -> str:
        """The SVG (needs Graphviz `dot`)."""
        return encode(self.graph, "svg", self._options).data  # type: ignore[return-value]

    def save(self, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """Write to ``path`` atomically; the format comes from the extension unless given."""
        return _save(self.graph, path, format_for(path, format), self._options)

    def explore(self) -> Explorer:
        """The explorer page, which Jupyter displays inline (see `explore`)."""
        return Explorer(encode(self.graph, "html", self._options).data)  # type: ignore[arg-type]

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


def explore(source: Graph | Outputs | Capture, **options: Any) -> Explorer:
    """The explorer for the graph behind ``source``: shown inline in Jupyter; ``.save(path)``
    writes it (as ``render(source, "graph.html")`` does). Options as for `render`.

    A `Capture` (``with capture(history=True) as cap``) gives one page for every call it
    recorded, with a step control, as ``gradviz run --call all -o run.html`` writes: the calls
    of its ``history``, or else all of its ``calls``. Draw options only."""
    sorted_options = _options(options)
    if isinstance(source, Capture):
        given = [*sorted_options.walk_given, *(["findings"] if "findings" in options else [])]
        if given:
            raise GradvizError(f"{', '.join(given)}: not taken with a Capture, only draw options")
        return Explorer(run_page(_history(source), sorted_options.draw))
    graph = _graph(source, sorted_options)
    draw = sorted_options.draw_for(graph)
    return Explorer(encode(graph, "html", draw).data)  # type: ignore[arg-type]


def flow(cap: Capture, *, params: bool = False) -> Flow:
    """Each layer's gradient norm at every call ``cap`` recorded (as ``gradviz flow`` prints
    it): ``.steps`` (the calls' names) and ``.rows``, each a `FlowRow` with ``name``, ``kind``,
    ``params`` and ``norms`` (NaN: no gradient at that call; Inf: one with NaN or Inf entries).
    ``params``: one row per parameter, not per module. Modules name the rows when the capture
    recorded them: ``capture(history=True, modules=True)``."""
    return flow_of(_history(cap), params=params)


def _history(cap: Capture) -> History:
    """``cap``'s calls as a `History`: its own with ``history=True``, else its calls (those
    the program made: a call made inside another is not a step, as in `Recorder._keep`)."""
    if cap.history is not None:
        return cap.history
    own = (call for call in cap.calls if not call.inner)
    return History.of((call.name, call.graph, call.error) for call in own)


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
    modules nested deeper as one node) for drawing: pictures are made by `draw`. ``findings``
    (``cap.findings`` of ``capture(diagnose=True)``) draws the doctor's findings on the graph:
    pictures and DOT outline the nodes each concerns and list them in the legend, the explorer
    lists them beside the graph (see `finding_marks`). When no layout
    finishes in time, the DOT is written next to ``path`` (``g.svg`` -> ``g.dot``) and
    `LayoutTimeoutError` names it.
    """
    sorted_options = _options(options)
    graph = _graph(source, sorted_options)
    draw = sorted_options.draw_for(graph)
    if path is None:
        if format is not None:
            raise GradvizError("format= needs a path; without one, render() returns a Rendering")
        return Rendering(graph, **{k.name: getattr(draw, k.name) for k in fields(draw)})
    return _save(graph, path, format_for(path, format), draw)


def _save(graph: Graph, path: str | os.PathLike[str], fmt: Format, options: DrawOptions) -> Path:
    """Write ``graph`` to ``path``; when layout times out, write its DOT beside it and say so."""
    try:
        data = encode(graph, fmt, options).data
    except LayoutTimeoutError as exc:
        beside = write_dot_beside(path, exc)
        if beside is None:
            raise
        raise LayoutTimeoutError(f"{exc}; wrote its DOT to {beside}", exc.dot) from None
    return write_atomic(path, data)
