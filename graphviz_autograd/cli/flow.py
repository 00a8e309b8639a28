"""``gradviz flow``: run a script, record every backward call as figures, and print each
layer's gradient norm over the calls as a table (or write it as JSON, CSV or SVG)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Final

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..errors import GradvizError
from ..history import MAX_GRAPHS
from ..ranks import Rank, rank_path
from ..renderers.flow import (
    MISSING_MARK,
    NONFINITE_MARK,
    SPARK_WIDTH,
    flow_scale,
    per_param,
    sparkline,
    to_csv,
    to_json,
)
from ..renderers.flow_svg import to_svg
from ..renderers.labels import fmt_float
from ..text import count_of
from ..trace.script import run_captured
from ..transform.flow import Flow, flow
from .exits import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, script_exit_code
from .options import Args, FlowOutputs, PerParam, Ranks, Script, parse_ranks
from .terminal import (
    check_writable,
    chosen_rank,
    err,
    fail,
    put_said,
    report_console,
    report_ending,
    speaking,
    stdout_to_devnull,
)

__all__ = ["WRITERS", "flow_command", "flow_table"]

WRITERS: Final[dict[str, Callable[[Flow], str]]] = {
    ".json": to_json,
    ".csv": to_csv,
    ".svg": to_svg,
}
"""The files ``-o`` writes, by extension (``-``: JSON to stdout)."""


def flow_command(
    script: Script,
    args: Args = None,
    outputs: FlowOutputs = None,
    params: PerParam = False,
    ranks: Ranks = "0",
) -> None:
    """Run SCRIPT and print each layer's gradient norm over its backward calls: first, last,
    smallest, largest and a sparkline (log scale). A layer is a module with parameters of its
    own; its norm is that of all their gradients together (see docs/flow.md)."""
    rank, chosen = chosen_rank(parse_ranks(ranks))
    targets = [_target(path, rank) for path in outputs or []]
    with speaking(chosen):
        _flow(script, args or [], targets, params, report=chosen)


def _target(path: str, rank: Rank | None) -> str:
    """``path`` as written on this rank; a usage error when its format is not known."""
    if path == "-":
        return path
    if Path(path).suffix.lower() not in WRITERS:
        raise fail(f"cannot tell the format of {path!r}: use .json, .csv or .svg", EXIT_USAGE)
    return rank_path(path, rank)


def _flow(script: Path, args: list[str], targets: list[str], params: bool, *, report: bool) -> None:
    for target in targets:
        if target != "-":
            check_writable(target)
    to_stdout = "-" in targets  # stdout carries the JSON: the script's prints go to stderr
    try:
        run = run_captured(
            script,
            args,
            keep="all",
            options={"modules": True},  # layers are named by the modules that hold them
            history=True,
            stdout_to_stderr=to_stdout,
        )
    except GradvizError as exc:
        raise fail(str(exc)) from None
    history = run.recorded.history
    assert history is not None  # history=True
    if run.interrupted and not history.steps:
        err.print("[yellow]interrupted:[/] before the script made a backward call; nothing written")
        raise typer.Exit(EXIT_INTERRUPTED)
    reader_left = isinstance(run.error, BrokenPipeError)  # `gradviz flow s.py | head`
    if reader_left:
        stdout_to_devnull()
    else:
        report_ending(run, interrupted="the flow covers what ran so far")
    failed = None if reader_left else run.error
    if not history.steps:
        raise fail(
            "the script made no backward call", script_exit_code(failed) if failed else EXIT_ERROR
        )
    found = flow(history, params=params)
    if report:
        _publish(found, targets, script)
    if failed is not None:
        raise typer.Exit(script_exit_code(failed))
    if reader_left:
        raise typer.Exit(EXIT_ERROR)


def _publish(found: Flow, targets: list[str], script: Path) -> None:
    """Write ``found`` to each target and print its table (unless stdout carries JSON)."""
    if found.unkept:
        err.print(
            f"[yellow]note:[/] {count_of(found.unkept, 'backward call')} of graph structures "
            f"past the first {MAX_GRAPHS} are not in the flow"
        )
    for target in targets:
        writer = to_json if target == "-" else WRITERS[Path(target).suffix.lower()]
        rows = count_of(len(found.rows), "row")
        put_said(target, writer(found), f"{rows}, {count_of(len(found.steps), 'call')}")
    if "-" not in targets:
        console = report_console()
        what = "parameter" if per_param(found.rows) else "module"
        console.print(
            f"gradviz flow {escape(str(script))}: {count_of(len(found.steps), 'backward call')}, "
            f"{count_of(len(found.rows), what)}"
        )
        console.print(flow_table(found))


def _fmt(value: float | None) -> Text:
    """A norm for the table: 4 significant digits, ``-`` for none, a red ``Inf``."""
    if value is not None and math.isinf(value):
        return Text("Inf", style="bold red")
    return Text(fmt_float(value))


def _styled(line: str) -> Text:
    text = Text(line)
    for k, char in enumerate(line):
        if char == NONFINITE_MARK:
            text.stylize("bold red", k, k + 1)
        elif char == MISSING_MARK:
            text.stylize("dim", k, k + 1)
    return text


def flow_table(flow: Flow, *, width: int = SPARK_WIDTH) -> Table:
    """``flow`` as a table: per row its norm at the first and last step, its smallest and
    largest (over the steps it had a gradient at; Inf when one was not finite), and a
    `sparkline` on one log scale shared by all rows."""
    scale = flow_scale(flow.rows)
    spread = "" if scale is None else f" from {fmt_float(scale.low)} to {fmt_float(scale.high)}"
    per_column = math.ceil(len(flow.steps) / width)
    largest = f", each column the largest of up to {per_column} calls" if per_column > 1 else ""
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        caption=f"sparkline: log scale{spread}{largest}",
        caption_justify="left",
    )
    table.add_column("parameter" if per_param(flow.rows) else "module", overflow="fold")
    for name in ("first", "last", "min", "max"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("over the calls", no_wrap=True)
    for row in flow.rows:
        norms = row.norms
        known = [v for v in norms if not math.isnan(v)]
        table.add_row(
            Text(row.name),
            _fmt(None if math.isnan(norms[0]) else norms[0]) if norms else _fmt(None),
            _fmt(None if math.isnan(norms[-1]) else norms[-1]) if norms else _fmt(None),
            _fmt(min(known) if known else None),
            _fmt(max(known) if known else None),
            _styled(sparkline(norms, scale, width)),
        )
    return table
