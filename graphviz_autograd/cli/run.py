"""``gradviz run``: run a script, record its backward calls, and write the graph of one (or
all); `draw_script` is shared with ``gradviz tree``."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import GradvizError
from ..model import Graph
from ..ranks import Rank, RankSelection
from ..renderers.formats import Format as FileFormat
from ..renderers.layout import IMAGE_FORMATS, INSTALL_HINT, find_dot
from ..renderers.options import DrawOptions
from ..renderers.style import shared_scale
from ..text import count_of
from ..trace.script import ScriptRun, graph_globals, run_captured
from ..trace.selection import CallSelection
from .drawing import targets, write_graphs, write_run
from .exits import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, script_exit_code
from .options import (
    Args,
    Call,
    Depth,
    EdgeGrads,
    Format,
    Labels,
    LayoutDirection,
    LayoutTimeout,
    MaxNodes,
    OpShapes,
    Output,
    OutputFormat,
    RankDir,
    Ranks,
    Script,
    ShowAttrs,
    ShowInputs,
    ShowOrder,
    ShowSaved,
    Var,
    WithModules,
    WithSource,
    parse_call,
    parse_ranks,
)
from .terminal import (
    check_writable,
    chosen_rank,
    each_once,
    err,
    fail,
    report_ending,
    speaking,
    stdout_to_devnull,
)

if TYPE_CHECKING:
    from ..trace.record import BackwardCall
    from ..trace.walk import WalkOptions

__all__ = ["draw_script", "run_command"]


def run_command(
    script: Script,
    args: Args = None,
    output: Output = None,
    fmt: Format = None,
    call: Call = "first",
    var: Var = None,
    show_saved: ShowSaved = False,
    show_attrs: ShowAttrs = False,
    show_inputs: ShowInputs = False,
    source: WithSource = True,
    modules: WithModules = True,
    op_shapes: OpShapes = None,
    show_order: ShowOrder = False,
    edge_grads: EdgeGrads = None,
    labels: Labels = None,
    max_nodes: MaxNodes = None,
    depth: Depth = None,
    rankdir: LayoutDirection = RankDir.TB,
    layout_timeout: LayoutTimeout = None,
    ranks: Ranks = "0",
) -> None:
    """Run SCRIPT, record its backward calls, and write the graph of one (or all)."""
    walk: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    draw = DrawOptions(
        rankdir=rankdir.value,
        show_order=show_order,
        edge_grads=edge_grads,
        # --show-attrs shows them in every format: in the labels too, not only in tooltips.
        labels=labels.value if labels else ("attrs" if show_attrs else "short"),
        timeout=layout_timeout,
        max_nodes=max_nodes,
        depth=depth,
    )
    draw_script(script, args or [], output or [], fmt, call, var, walk, draw, parse_ranks(ranks))


def draw_script(
    script: Path,
    args: list[str],
    outputs: list[str],
    fmt: OutputFormat | None,
    call: str,
    var: str | None,
    walk: WalkOptions,
    draw: DrawOptions,
    ranks: RankSelection | None = None,
) -> None:
    """Run ``script`` under capture and write (or print as a tree) the graph(s) asked for, to
    each of ``outputs`` (none: the default file); in a distributed job, only on the ``ranks``
    chosen (rank 0 by default): the others run the script and gradviz just the same, silent,
    and exit as they would."""
    ranks = ranks or RankSelection()
    rank, chosen = chosen_rank(ranks)
    with speaking(chosen):
        _draw_script(script, args, outputs, fmt, parse_call(call), var, walk, draw, rank, chosen)


def _draw_script(
    script: Path,
    args: list[str],
    outputs: list[str],
    fmt: OutputFormat | None,
    selection: CallSelection,
    var: str | None,
    walk: WalkOptions,
    draw: DrawOptions,
    rank: Rank | None,
    chosen: bool,
) -> None:
    wanted = _outputs(outputs, fmt)
    plans = _checked_plans(script, wanted, fmt, selection, rank)
    # The one call to draw is written as soon as it is recorded: a script that ends with
    # os._exit, or crashes in native code, after it loses nothing. The tree prints at the end,
    # after the script's output; --var draws what the script left.
    tree = fmt is OutputFormat.tree
    early = _Early(plans, draw) if chosen and not tree and var is None else None
    # Every call on one page: each kept as figures only, so that long runs stay small.
    one_page = selection.kind == "all" and var is None and plans[0][0] == "html"
    try:
        run = run_captured(
            script,
            args,
            keep=selection,
            options=walk,
            on_record=early,
            stdout_to_stderr=any("-" in paths for _, paths in plans),
            history=one_page,
        )
    except GradvizError as exc:
        raise fail(str(exc)) from None
    stopped = early.outcome[0] if early and early.outcome else None
    if isinstance(stopped, KeyboardInterrupt):
        raise fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(stopped, SystemExit):
        raise stopped
    if run.interrupted and var is None and not run.calls:  # nothing to draw, nothing to hint at
        err.print("[yellow]interrupted:[/] before the script made a backward call; nothing written")
        raise typer.Exit(EXIT_INTERRUPTED)
    reader_left = isinstance(run.error, BrokenPipeError)  # `gradviz tree s.py | head`
    if reader_left:  # nothing to say: what is left of stdout goes nowhere
        stdout_to_devnull()
    else:
        report_ending(run, interrupted="writing what was captured so far")
    failed = None if reader_left else run.error

    graphs, names = _chosen(run, selection, var, walk, failed)
    if one_page:
        names = ["1"]  # one page, at the path given
    plans = [targets(script, output, fmt, names, rank) for output in wanted]
    if len(graphs) > 1:  # --call all: one shading scale, so that the calls compare
        draw = replace(draw, scale=shared_scale(graphs))
    try:
        if stopped is not None:
            raise stopped
        if chosen and one_page and run.recorded.history is not None:
            write_run(run.recorded.history, plans[0][1][0], draw)
        elif chosen and not (early and early.outcome):
            for kind, paths in plans:
                write_graphs(graphs, kind, paths, draw)
    except GradvizError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", EXIT_INTERRUPTED) from None
    if failed is not None:
        raise typer.Exit(script_exit_code(failed))
    if reader_left:
        raise typer.Exit(EXIT_ERROR)


def _checked_plans(
    script: Path,
    wanted: list[str | None],
    fmt: OutputFormat | None,
    selection: CallSelection,
    rank: Rank | None,
) -> list[tuple[FileFormat | None, list[str]]]:
    """The format and paths of each output wanted (`drawing.targets`), checked before the
    script runs: `dot` is there for a picture, each path can be written, and a run's one page
    (``--call all -o run.html``) is the only output."""
    plans = [targets(script, output, fmt, ["1"], rank) for output in wanted]
    if any(kind in IMAGE_FORMATS for kind, _ in plans) and find_dot() is None:
        raise fail(INSTALL_HINT)
    for _, paths in plans:
        for target in paths:
            if target != "-":  # with --call all only the folder is known yet
                check_writable(target, folder_only=selection.kind == "all")
    if selection.kind == "all" and len(plans) > 1 and any(k == "html" for k, _ in plans):
        raise fail(
            "--call all with an .html output writes the whole run on one page, and keeps "
            "no other graph: give the other outputs in a run of their own",
            EXIT_USAGE,
        )
    return plans


def _outputs(outputs: list[str], fmt: OutputFormat | None) -> list[str | None]:
    """The ``-o`` paths to write, each once; ``[None]`` for the default file, or for a tree,
    which prints (and takes no ``-o``)."""
    if fmt is OutputFormat.tree:
        if outputs:
            raise fail(
                f"--format tree prints the tree here, to no file: drop -o {outputs[0]}", EXIT_USAGE
            )
        return [None]
    return list(each_once(outputs)) or [None]


class _Early:
    """Called with the one call to draw as soon as it is recorded: writes it to each output,
    and keeps how that went (`outcome`) to say once the script is done, not into it."""

    def __init__(self, plans: list[tuple[FileFormat | None, list[str]]], draw: DrawOptions):
        self.plans, self.draw = plans, draw
        self.stdout = sys.stdout  # the script's prints go to stderr while it runs
        self.outcome: list[BaseException | None] = []
        """One entry once called: the first exception writing raised, or None."""

    def __call__(self, call: BackwardCall) -> None:
        failed: BaseException | None = None
        for kind, paths in self.plans:  # one that fails does not keep the others from disk
            try:
                with contextlib.redirect_stdout(self.stdout):
                    write_graphs([call.graph], kind, paths, self.draw)
            except Exception as exc:  # said (or raised) once the script is done, not into it
                failed = failed or exc
            except BaseException as exc:  # Ctrl-C, SIGTERM during layout: the script stops
                self.outcome.append(exc)
                raise
        self.outcome.append(failed)


def _chosen(
    run: ScriptRun,
    selection: CallSelection,
    var: str | None,
    walk: WalkOptions,
    failed: BaseException | None,
) -> tuple[list[Graph], list[str]]:
    """The graphs to draw and their names (``1``, or the calls' names with ``--call all``):
    the global ``var``'s, else the recorded calls'."""
    if var is not None:
        return [_global_graph(run, var, walk)], ["1"]
    calls = run.calls if selection.kind == "all" else run.calls[-1:]
    if not calls:
        tensors = graph_globals(run.globals)
        hint = (
            f"; render one of its tensors with --var NAME: {', '.join(tensors)}"
            if tensors
            else "; use --var NAME to draw one of its tensors"
        )
        code = script_exit_code(failed) if failed else EXIT_ERROR
        raise fail(_no_call(run, selection) + hint, code)
    return [call.graph for call in calls], [call.name for call in calls]


def _no_call(run: ScriptRun, selection: CallSelection) -> str:
    """Why no graph was recorded for ``--call``."""
    made = run.recorded.count
    if selection.kind != "one" or made == 0:
        return "the script made no backward call"
    if selection.inner:
        return (
            f"--call {selection}: no such call; the script made "
            f"{count_of(made, 'backward call')}, and {run.recorded.inner_count:,} inside them"
        )
    return f"--call {selection}: the script made only {made} backward call(s)"


def _global_graph(run: ScriptRun, var: str, walk: WalkOptions) -> Graph:
    """The graph behind the script's global ``var``, walked once the script has ended."""
    from ..trace.naming import names_in  # torch loads with these, not at start-up
    from ..trace.walk import build_graph

    if var not in run.globals:
        names = graph_globals(run.globals)
        hint = f"; tensors with a graph: {', '.join(names)}" if names else ""
        raise fail(f"the script has no global named {var!r}{hint}")
    try:
        known = names_in(run.globals)
        return build_graph(run.globals[var], params=known, **walk)
    except GradvizError as exc:
        raise fail(f"--var {var}: {exc}") from None
