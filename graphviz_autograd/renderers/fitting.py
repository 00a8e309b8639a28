"""How much of a graph each format shows: the node budget it is folded to (`fold_budget`),
the folding itself (`fold_for`: a Mermaid flowchart further, until Mermaid draws it), and the
graph a terminal tree prints (`tree_shown`). Renderers draw the graph they are given; their
callers decide here what that is."""

from __future__ import annotations

from typing import Literal

from ..model import Graph
from ..transform.collapse import collapse_modules
from ..transform.fold import DEFAULT_MAX_NODES, fold
from .formats import Format
from .layout import IMAGE_FORMATS
from .mermaid import MAX_EDGES, MAX_TEXT, to_mermaid

__all__ = ["fit_mermaid", "fold_budget", "fold_for", "tree_shown"]


def fold_budget(fmt: Format | Literal["tree"], max_nodes: int | None = None) -> int:
    """The node budget a graph shown as ``fmt`` is folded to: ``max_nodes`` when given, else
    `DEFAULT_MAX_NODES` for pictures, the explorer (which opens folded and unfolds in the page)
    and the terminal tree, and 0 (never fold) for DOT and JSON, which keep the full data."""
    if max_nodes is not None:
        return max_nodes
    return DEFAULT_MAX_NODES if fmt in (*IMAGE_FORMATS, "html", "tree") else 0


def fold_for(graph: Graph, fmt: Format | Literal["tree"], max_nodes: int | None = None) -> Graph:
    """``graph`` folded as it is shown as ``fmt``: to `fold_budget` (a tree, which is not laid
    out, counting nodes only); and Mermaid, unless ``max_nodes`` is given, further, until it
    fits Mermaid's limits (`fit_mermaid`)."""
    graph = fold(graph, max_nodes=fold_budget(fmt, max_nodes), layout=fmt != "tree")
    if fmt == "mermaid" and max_nodes is None:
        return fit_mermaid(graph)
    return graph


def tree_shown(graph: Graph, *, max_nodes: int | None = None, depth: int | None = None) -> Graph:
    """The graph a terminal tree of ``graph`` prints: modules deeper than ``depth`` collapsed,
    then folded as for pictures (`fold_for`)."""
    if depth is not None:
        graph = collapse_modules(graph, depth)
    return fold_for(graph, "tree", max_nodes)


def fit_mermaid(graph: Graph, **options: object) -> Graph:
    """``graph``, folded until its flowchart (`mermaid.to_mermaid` with ``options``) fits Mermaid's
    default limits, `MAX_EDGES` edges and `MAX_TEXT` characters; ``graph`` itself when it fits.

    A note says that it was folded, or that it still does not fit (Mermaid would refuse it:
    raise ``maxEdges``/``maxTextSize`` in its configuration, or draw an SVG instead).
    """
    shown = graph
    if len(graph) > 2 * MAX_EDGES:  # more nodes than this have more edges than fit
        shown = fold(graph, max_nodes=MAX_EDGES)
    while True:
        size = len(to_mermaid(shown, **options))  # type: ignore[arg-type]
        edges = shown.edge_count
        if edges <= MAX_EDGES and size <= MAX_TEXT:
            break
        budget = int(len(shown) * min(MAX_EDGES / edges, MAX_TEXT / size) * 0.9)
        smaller = fold(graph, max_nodes=max(budget, 1))
        if len(smaller) >= len(shown):  # nothing more folds
            return shown.replace(
                notes=(
                    *graph.notes,
                    *_folded(graph, shown),
                    f"{edges:,} edges and {size:,} characters: more than Mermaid draws by default "
                    f"({MAX_EDGES:,} edges, {MAX_TEXT:,} characters); raise maxEdges and "
                    "maxTextSize in its configuration, or draw an SVG",
                )
            )
        shown = smaller
    if shown is graph:
        return graph
    return shown.replace(
        notes=(
            *graph.notes,
            *_folded(graph, shown),
            f"folded to fit Mermaid's limits ({MAX_EDGES:,} edges, {MAX_TEXT:,} characters)",
        )
    )


def _folded(graph: Graph, shown: Graph) -> tuple[str, ...]:
    """The note folding added to ``shown`` that says what it folded, if any."""
    return tuple(n for n in shown.notes[len(graph.notes) :] if n.startswith("folded "))
