"""``gradviz doctor``: run a script under the doctor's watch and report autograd pitfalls."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import typer

from ..errors import GradvizError
from ..model import Graph
from ..ranks import rank_path
from ..renderers.formats import Format, resolve
from ..renderers.layout import IMAGE_FORMATS, INSTALL_HINT, find_dot
from ..renderers.options import DrawOptions
from ..text import count_of
from ..trace.script import ScriptRun, run_captured
from ..trace.selection import CallSelection
from .drawing import write_graphs
from .exits import EXIT_FINDINGS, EXIT_SCRIPT_FAILED, EXIT_USAGE, script_exit_code
from .options import (
    Args,
    DoctorFormat,
    Ranks,
    RecordedCall,
    ReportFormat,
    ReportOutput,
    Script,
    parse_call,
    parse_ranks,
)
from .terminal import (
    check_writable,
    chosen_rank,
    each_once,
    fail,
    put_said,
    report_console,
    report_ending,
    speaking,
    stdout_to_devnull,
)

if TYPE_CHECKING:
    from ..doctor.findings import Finding

__all__ = ["doctor_command"]

PICTURES: Final = ("svg", "png", "pdf", "dot", "html")
"""The formats of ``-o`` that draw the recorded graph with the findings on it."""


def doctor_command(
    script: Script,
    args: Args = None,
    output: ReportOutput = None,
    fmt: ReportFormat = None,
    call: RecordedCall = "first",
    ranks: Ranks = "0",
) -> None:
    """Run SCRIPT and diagnose autograd pitfalls: unused, detached or frozen parameters,
    gradients never zeroed, backward twice, in-place changes, where a NaN was born, and more.

    Exit codes: 0 no warning or error; 4 at least one (a failure of the script that the doctor
    explains counts as one: its traceback is still printed); 3 the script raised otherwise;
    N the script called sys.exit(N) or os._exit(N), N not 0: its status wins over 4, the report
    is printed all the same; 1 gradviz's own error; 2 usage; 130 Ctrl-C. A reader of stdout that
    leaves early (``| head -1``) changes none of these: the rest of the report goes nowhere,
    quietly. Under torchrun every rank runs the doctor; the chosen ranks (--ranks) report, each
    on its own findings. ``-o report.svg`` (.png .pdf .dot) draws the recorded call's graph with
    the nodes of each finding outlined, ``-o report.html`` the explorer with the findings beside
    the graph; the report is printed too.
    """
    rank, chosen = chosen_rank(parse_ranks(ranks))
    outputs = [path if path == "-" else rank_path(path, rank) for path in output or []]
    with speaking(chosen):
        _doctor(script, args or [], outputs, fmt, parse_call(call), report=chosen)


def _doctor(
    script: Path,
    args: list[str],
    outputs: list[str],
    fmt: DoctorFormat | None,
    selection: CallSelection,
    *,
    report: bool,
) -> None:
    from ..doctor.findings import EXPLAINS_FAILURE, counts

    output, pictures = _outputs(outputs, fmt)
    as_json = fmt is DoctorFormat.json or (fmt is None and output not in (None, "-"))
    for path in [output, *pictures]:
        if path not in (None, "-"):
            check_writable(path)
    if output == "-" and not as_json:
        raise fail("-o - writes JSON: add --format json", code=EXIT_USAGE)
    to_stdout = as_json and output in (None, "-")
    try:
        run = run_captured(
            script,
            args,
            keep=selection,
            options={"source": True, "modules": True},
            diagnose=True,
            stdout_to_stderr=to_stdout,
        )
    except GradvizError as exc:
        raise fail(str(exc)) from None
    reader_left = isinstance(run.error, BrokenPipeError)  # the script printed into `| head`
    if reader_left:
        stdout_to_devnull()
        run = replace(run, error=None)  # the reader's leaving, not the script's failure
    report_ending(run, interrupted="the report covers what ran so far")

    findings = run.recorded.findings
    if report:
        _publish(findings, run.recorded.count, str(script), output if as_json else None, to_stdout)
        for path, kind in pictures.items():
            _draw(run, selection, findings, kind, path)

    tally = counts(findings)
    if run.error is not None and (run.interrupted or run.exited):  # a CI step keeps its status
        raise typer.Exit(script_exit_code(run.error))
    explained = any(f.code in EXPLAINS_FAILURE for f in findings)
    if run.error is not None and not explained:
        raise typer.Exit(EXIT_SCRIPT_FAILED)
    if tally["error"] or tally["warning"]:
        raise typer.Exit(EXIT_FINDINGS)


def _publish(
    findings: list[Finding], calls: int, script: str, json_to: str | None, to_stdout: bool
) -> None:
    """Print the report, or write it as JSON to ``json_to`` (stdout with ``to_stdout``)."""
    from ..doctor.findings import to_json
    from ..doctor.report import print_report

    if json_to is None and not to_stdout:
        print_report(report_console(), findings, script=script, calls=calls)
        return
    text = json.dumps(to_json(findings, script=script, calls=calls), indent=2) + "\n"
    target = "-" if to_stdout or json_to is None else json_to
    put_said(target, text, count_of(len(findings), "finding"))


def _outputs(outputs: list[str], fmt: DoctorFormat | None) -> tuple[str | None, dict[str, Format]]:
    """The one ``-o`` that takes the report (None: it is printed) and the pictures to draw,
    each path with its format; fails on a path given twice, or two that would take the
    report."""
    pictures: dict[str, Format] = {}
    reports: list[str] = []
    for path in each_once(outputs):
        kind = _picture_format(path, fmt)
        if kind is None:
            reports.append(path)
        else:
            pictures[path] = kind
    if len(reports) > 1:
        raise fail(
            f"-o {reports[0]} and -o {reports[1]} would each take the report: give one",
            code=EXIT_USAGE,
        )
    return (reports[0] if reports else None), pictures


def _picture_format(output: str | None, fmt: DoctorFormat | None) -> Format | None:
    """The format of the picture ``-o`` asks for (svg, png, pdf, dot, html), or None for the
    JSON report (any other name, or ``--format json``); fails early when `dot` is missing."""
    if output in (None, "-") or fmt is DoctorFormat.json:
        return None
    try:
        kind = resolve(output)
    except GradvizError:
        return None
    if kind not in PICTURES:
        return None
    if kind in IMAGE_FORMATS and find_dot() is None:
        raise fail(INSTALL_HINT)
    return kind


def _draw(
    run: ScriptRun, selection: CallSelection, findings: list[Finding], kind: Format, target: str
) -> None:
    """Write the graph of the recorded call (the first with ``--call all``; no call: an empty
    graph) with ``findings`` drawn on it to ``target``."""
    from ..api import finding_marks

    calls = run.calls
    if not calls:
        graph = Graph((), (), ())
    else:
        graph = (calls[0] if selection.kind == "all" else calls[-1]).graph
    draw = DrawOptions(marks=finding_marks(findings, graph))
    try:
        write_graphs([graph], kind, [target], draw)
    except GradvizError as exc:
        raise fail(str(exc)) from None
