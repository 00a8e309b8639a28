"""The Python entry points: each takes output tensors or an already built `Graph`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from .errors import GradvizError
from .files import write_atomic
from .fold import DEFAULT_MAX_NODES, fold
from .model import Graph
from .renderers import dot as _dot
from .renderers import json as _json
from .renderers import mermaid as _mermaid
from .renderers import tree as _tree

if TYPE_CHECKING:
    from .walk import Outputs

__all__ = [
    "FORMATS",
    "Format",
    "Rendering",
    "fold_for",
    "format_for",
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_mermaid",
    "to_svg",
]

Format: TypeAlias = Literal["svg", "png", "pdf", "dot", "json", "mermaid"]
FORMATS: Final[dict[str, Format]] = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".json": "json",
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
    from .walk import build_graph  # torch is imported when tensors are first walked

    return build_graph(source, **walk_options)


def _split(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    walk_keys = {"params", "show_saved", "show_attrs", "show_inputs", "op_shapes"}
    render_keys = {"rankdir", "timeout", "show_order", "max_nodes"}
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
    graph = fold(_graph(source, walk), max_nodes=fold_budget("tree", rend.get("max_nodes")))
    _tree.print_graph_tree(graph, console=console)


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> Format:
    """The output format named by ``fmt``, else by the extension of ``path``."""
    if fmt is not None:
        if fmt not in FORMATS.values():
            raise GradvizError(f"unknown format {fmt!r}: use svg, png, pdf, dot, json or mermaid")
        return fmt  # type: ignore[return-value]
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise GradvizError(
            f"cannot tell the format of {os.fspath(path)!r}: use a .svg, .png, .pdf, .dot, .gv or "
            ".json or .mmd name, or pass format="
        )
    return FORMATS[suffix]


def fold_budget(fmt: Format | Literal["tree"], max_nodes: int | None = None) -> int:
    """The node budget a graph shown as ``fmt`` is folded to: ``max_nodes`` when given, else
    `DEFAULT_MAX_NODES` for pictures and the terminal tree, and 0 (never fold) for DOT and
    JSON, which keep the full data."""
    if max_nodes is not None:
        return max_nodes
    return DEFAULT_MAX_NODES if fmt in _dot.IMAGE_FORMATS or fmt == "tree" else 0


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
    and Mermaid until it fits Mermaid's limits; DOT and JSON keep the full graph.
    """
    graph = fold_for(graph, fmt, max_nodes)
    if fmt == "dot":
        render_options.pop("timeout", None)
        return _dot.to_dot(graph, **render_options)
    if fmt == "json":
        return _json.to_json(graph)
    if fmt == "mermaid":
        render_options.pop("timeout", None)
        return _mermaid.to_mermaid(graph, **render_options)
    if fmt == "svg":
        return _dot.to_svg(graph, **render_options)
    return _dot.to_image(graph, fmt, **render_options)


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
        return write_atomic(path, encode(self.graph, format_for(path, format), **self._options))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": repr(self)}
        try:
            bundle["image/svg+xml"] = self.svg()
        except GradvizError as exc:  # no `dot`: still show something useful
            bundle["text/plain"] = f"{self!r}\n{exc}"
        return bundle

    def __repr__(self) -> str:
        g = self.graph
        return f"<gradviz Rendering: {len(g)} nodes, {g.edge_count} edges>"


def render(
    source: Graph | Outputs,
    path: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    **options: Any,
) -> Path | Rendering:
    """Draw the graph behind ``source`` (output tensors, or a `Graph`).

    With ``path``, writes the file atomically (format from the extension: .svg .png .pdf
    .dot/.gv .json, or ``format=``) and returns its `Path`. Without, returns a `Rendering`,
    which Jupyter displays inline.

    Options: ``params``, ``show_saved``, ``show_attrs``, ``show_inputs`` (walk, see
    `build_graph`); ``rankdir``, ``show_order``, ``timeout`` (layout seconds), ``max_nodes``
    (fold pictures to at most this many nodes; default 1,500, 0 never; DOT and JSON are
    folded only when it is given) for drawing.
    """
    walk, rend = _split(options)
    graph = _graph(source, walk)
    if path is None:
        if format is not None:
            raise GradvizError("format= needs a path; without one, render() returns a Rendering")
        return Rendering(graph, **rend)
    return write_atomic(path, encode(graph, format_for(path, format), **rend))
