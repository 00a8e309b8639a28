"""Pictures (SVG, PNG, PDF) laid out by Graphviz within a deadline: the graph is folded to fit
first, and folded further (modules collapsed one level shallower) each time a layout takes too
long, until one finishes or the time is up."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, NamedTuple

from ..errors import GradvizError, LayoutTimeoutError
from ..files import is_special, write_atomic
from ..model import Graph
from ..transform.collapse import collapse_modules, module_depth
from ..transform.fold import fold_fitting
from .dot import Labels, to_dot
from .fitting import fold_budget
from .layout import ImageFormat, run_dot
from .options import DrawOptions

__all__ = ["DEFAULT_LAYOUT_TIMEOUT", "Picture", "draw", "draw_picture", "write_dot_beside"]

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
    fmt: ImageFormat = "svg",
    *,
    max_nodes: int | None = None,
    depth: int | None = None,
    timeout: float | None = None,
    rankdir: str = "TB",
    show_order: bool = False,
    status: Callable[[str], None] | None = None,
    edge_grads: bool | None = None,
    scale: tuple[float, float] | None = None,
    labels: Labels = "short",
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
        GraphvizNotFoundError, GradvizError: as `dot.run_dot`.
    """
    options = DrawOptions(
        rankdir=rankdir,
        show_order=show_order,
        edge_grads=edge_grads,
        scale=scale,
        labels=labels,
        timeout=timeout,
        max_nodes=max_nodes,
        depth=depth,
    )
    return draw_picture(graph, fmt, options, status=status)


def draw_picture(
    graph: Graph,
    fmt: ImageFormat,
    options: DrawOptions,
    *,
    status: Callable[[str], None] | None = None,
) -> Picture:
    """`draw` with its options as one value."""
    timeout, depth = options.timeout, options.depth
    if timeout is not None and timeout < 0:
        raise GradvizError(f"timeout must be 0 (no limit) or positive, not {timeout:g}")
    say = status or (lambda text: None)
    budget = fold_budget(fmt, options.max_nodes)
    total = DEFAULT_LAYOUT_TIMEOUT if timeout is None else timeout
    started = time.monotonic()
    shown, level = _fitted(graph, budget, depth, say)
    redrawn: list[str] = []
    while True:
        retry = _coarser(graph, shown, budget, level, depth is not None)
        left = total - (time.monotonic() - started) if total else None
        limit = None if left is None else left / 2 if retry else left
        source = to_dot(
            shown,
            rankdir=options.rankdir,
            show_order=options.show_order,
            edge_grads=options.edge_grads,
            scale=options.scale,
            labels=options.labels,
            marks=options.marks,
        )
        say(f"laying out {len(shown):,} nodes with Graphviz dot")
        try:
            data = run_dot(source, fmt, timeout=limit)
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


def write_dot_beside(path: str | os.PathLike[str], error: LayoutTimeoutError) -> Path | None:
    """Write the DOT a timed-out layout left (``error.dot``) next to ``path``, as ``.dot``;
    None when there is none, ``path`` is a DOT file already, or a device (``/dev/null``)."""
    target = Path(path).with_suffix(".dot")
    if error.dot is None or target == Path(path) or is_special(path):
        return None
    return write_atomic(target, error.dot)
