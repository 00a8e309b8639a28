"""`encode`: a graph in one output format, drawn as `DrawOptions` say: the one dispatch from a
format to its renderer, used by the Python API and the command line alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..model import Graph
from ..text import count_of
from ..transform.collapse import collapse_modules
from .dot import to_dot
from .fitting import fold_budget, fold_for
from .formats import Format
from .html import to_html
from .json import to_json
from .layout import IMAGE_FORMATS
from .mermaid import to_mermaid
from .options import DrawOptions
from .picture import draw_picture

__all__ = ["Document", "encode"]


class Document(NamedTuple):
    """A graph encoded by `encode`, with the graph it shows."""

    data: str | bytes
    """Text for svg/dot/json/html/mermaid, bytes for png/pdf."""
    whole: Graph
    """The graph it was folded from: the graph given, with modules deeper than ``depth``
    collapsed (pictures: the graph given)."""
    shown: Graph
    """The graph drawn: `whole` folded (an explorer page holds `whole` too, and opens as this)."""
    redrawn: tuple[str, ...] = ()
    """Pictures: what was done after a layout took too long (`picture.Picture.redrawn`)."""
    chosen_depth: int | None = None
    """Pictures: the module depth chosen to fit (`picture.Picture.chosen_depth`)."""


def encode(
    graph: Graph,
    fmt: Format,
    options: DrawOptions = DrawOptions(),  # noqa: B008 (frozen: one shared default is safe)
    *,
    status: Callable[[str], None] | None = None,
) -> Document:
    """``graph`` in format ``fmt``, drawn as ``options`` say; ``status`` hears what is going on.

    Pictures (svg/png/pdf) are folded to `fitting.fold_budget` and laid out by
    `picture.draw_picture` (with its deadline and retries); Mermaid is folded until it fits
    Mermaid's limits; DOT and JSON keep the full graph unless ``max_nodes`` is given. The
    explorer (html) gets the full graph and opens folded.
    """
    say = status or (lambda text: None)
    if fmt in IMAGE_FORMATS:
        picture = draw_picture(graph, fmt, options, status=say)
        return Document(picture.data, graph, picture.graph, picture.redrawn, picture.chosen_depth)
    if options.depth is not None:
        graph = collapse_modules(graph, options.depth)
    budget = fold_budget(fmt, options.max_nodes)
    if budget and len(graph) > budget:
        say(f"folding {count_of(len(graph), 'node')}")
    shown = fold_for(graph, fmt, options.max_nodes)
    say(f"writing {fmt.upper()}: {count_of(len(shown), 'node')}")
    data: str
    rankdir, show_order = options.rankdir, options.show_order
    # The explorer and Mermaid label no edges, and each shades on its own scale.
    if fmt == "html":  # the whole graph goes in: it opens folded, unfolds in the page
        data = to_html(
            graph,
            folded=shown,
            rankdir=rankdir,
            show_order=show_order,
            marks=options.marks,
        )
    elif fmt == "mermaid":
        data = to_mermaid(shown, rankdir=rankdir, show_order=show_order)
    elif fmt == "dot":
        data = to_dot(
            shown,
            rankdir=rankdir,
            show_order=show_order,
            edge_grads=options.edge_grads,
            scale=options.scale,
            labels=options.labels,
            marks=options.marks,
        )
    else:
        data = to_json(shown)
    return Document(data, graph, shown)
