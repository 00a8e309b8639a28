"""Writing the graphs `run` and `tree` draw: where each goes (`targets`), and writing each one
(`write_graphs`): to a file with a line saying what was written, to stdout, or as a tree."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from rich.markup import escape

from ..errors import GradvizError, LayoutTimeoutError
from ..files import is_special
from ..history import History
from ..model import Graph
from ..ranks import Rank, rank_path
from ..renderers.document import Document, encode
from ..renderers.fitting import tree_shown
from ..renderers.formats import Format, resolve
from ..renderers.layout import IMAGE_FORMATS
from ..renderers.options import DrawOptions
from ..renderers.picture import write_dot_beside
from ..renderers.steps import run_page
from ..renderers.tree import print_graph_tree
from ..text import count_of
from .exits import EXIT_USAGE
from .options import OutputFormat
from .terminal import check_writable, err, fail, put, sigterm_exits, status, tree_console

__all__ = ["targets", "write_graphs", "write_run"]


def targets(
    script: Path,
    output: str | None,
    fmt: OutputFormat | None,
    names: list[str],
    rank: Rank | None = None,
) -> tuple[Format | None, list[str]]:
    """The format and the output paths, one per graph ``names`` names (``-`` is stdout; [] with
    format None means tree): ``output`` itself for one graph, or for each when it is a device,
    FIFO or ``/dev/stdout``; else ``g-1.svg``, ``g-1.1.svg``; on ranks other than 0 of a
    distributed job, ``g.rank1.svg`` (`ranks.rank_path`)."""
    kind, paths = _targets(script, output, fmt, len(names), names)
    return kind, [rank_path(path, rank) for path in paths]


def _targets(
    script: Path, output: str | None, fmt: OutputFormat | None, count: int, names: list[str]
) -> tuple[Format | None, list[str]]:
    if fmt is OutputFormat.tree:
        return None, []
    if output == "-":
        if fmt in (OutputFormat.png, OutputFormat.pdf):
            raise fail(f"{fmt.value} is binary: give a file path with -o, not -")
        return resolve(output, fmt.value if fmt else "dot"), ["-"] * count
    if output is None:
        output = f"{script.stem}.{fmt.value if fmt else 'svg'}"
    try:
        kind = resolve(output, fmt.value if fmt else None)
    except GradvizError as exc:  # -o g.svg -f png: which one was meant?
        raise fail(str(exc), EXIT_USAGE) from None
    if kind is None:
        raise fail(f"cannot tell the format of {output!r}: use --format or a known extension")
    if count == 1 or is_special(output):  # /dev/null, /dev/stdout: each graph goes there
        return kind, [output] * count
    p = Path(output)
    return kind, [str(p.with_name(f"{p.stem}-{name}{p.suffix}")) for name in names]


def write_graphs(
    graphs: list[Graph], kind: Format | None, paths: list[str], draw: DrawOptions
) -> None:
    """Write each graph to its path, or print it as a tree (``kind`` None)."""
    if kind is None:
        for graph in graphs:
            shown = tree_shown(graph, max_nodes=draw.max_nodes, depth=draw.depth)
            print_graph_tree(
                shown,
                console=tree_console(),
                full=draw.labels == "full",
                show_order=draw.show_order,
                edge_grads=draw.edge_grads is not False,  # a tree has room for them: on unless off
            )
        return
    for graph, target in zip(graphs, paths, strict=True):
        if target != "-":
            check_writable(target)
        _write(graph, kind, target, draw)


def _write(graph: Graph, kind: Format, target: str, draw: DrawOptions) -> None:
    started = time.monotonic()
    # Folding a million nodes, layout, and writing the DOT or JSON of a big graph each take a
    # while: say which is going on. Ctrl-C stops `dot` at once.
    picture = kind in IMAGE_FORMATS
    with status() as say:
        try:
            with sigterm_exits() if picture else contextlib.nullcontext():
                document = encode(graph, kind, draw, status=say)
        except LayoutTimeoutError as exc:
            raise GradvizError(f"{exc}; {_timeout_hint(exc, kind, target)}") from None
    put(target, document.data)
    if target != "-":
        err.print(f"wrote {escape(target)} ({_summary(document, started)})")


def write_run(history: History, target: str, draw: DrawOptions) -> None:
    """Write the one explorer page of a whole run (``--call all -o run.html``)."""
    started = time.monotonic()
    if target != "-":
        check_writable(target)
    with status() as say:
        say(f"writing one page for {count_of(len(history.steps), 'backward call')}")
        page = run_page(history, draw)
    put(target, page)
    if target != "-":
        graphs = count_of(len(history.graphs), "graph structure")
        err.print(
            f"wrote {escape(target)} ({count_of(len(history.steps), 'backward call')}, {graphs}, "
            f"{len(page) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)"
        )


def _timeout_hint(exc: LayoutTimeoutError, kind: Format, target: str) -> str:
    """What to do about a layout that took too long: its DOT is written beside ``target``."""
    beside = None if target == "-" else write_dot_beside(target, exc)
    hint = (
        f"its DOT is in {beside} (`dot -T{kind} {beside} -o {target}` lays it out without a limit)"
        if beside
        else "--format dot writes its DOT"
    )
    return f"{hint}, or allow more time with --layout-timeout SECONDS (0: no limit)"


def _summary(document: Document, started: float) -> str:
    """``1,500 nodes folded to 40 nodes, 52 edges, 0.3 s; <what was redrawn>``."""
    whole, shown = document.whole, document.shown
    redrawn = document.redrawn
    if document.chosen_depth is not None and not redrawn:
        redrawn = (f"modules deeper than {document.chosen_depth} levels as one node (--depth N)",)
    folded = "" if len(shown) == len(whole) else f"{count_of(len(whole), 'node')} folded to "
    again = "".join(f"; {line}" for line in redrawn)
    return (
        f"{folded}{count_of(len(shown), 'node')}, "
        f"{count_of(shown.edge_count, 'edge')}, {time.monotonic() - started:.1f} s{escape(again)}"
    )
