"""``gradviz doctor``: run a script under the doctor's watch and report autograd pitfalls."""

from __future__ import annotations

import json
from dataclasses import replace

import typer
from rich.markup import escape

from ..errors import GradvizError
from ..text import count_of
from ..trace.script import run_captured
from .exits import EXIT_FINDINGS, EXIT_SCRIPT_FAILED, EXIT_USAGE, script_exit_code
from .options import (
    Args,
    DoctorFormat,
    RecordedCall,
    ReportFormat,
    ReportOutput,
    Script,
    parse_call,
)
from .terminal import (
    check_writable,
    err,
    fail,
    put,
    report_console,
    report_ending,
    stdout_to_devnull,
)

__all__ = ["doctor_command"]


def doctor_command(
    script: Script,
    args: Args = None,
    output: ReportOutput = None,
    fmt: ReportFormat = None,
    call: RecordedCall = "first",
) -> None:
    """Run SCRIPT and diagnose autograd pitfalls: unused, detached or frozen parameters,
    gradients never zeroed, backward twice, in-place changes, where a NaN was born, and more.

    Exit codes: 0 no warning or error; 4 at least one (a failure of the script that the doctor
    explains counts as one: its traceback is still printed); 3 the script raised otherwise;
    N the script called sys.exit(N) or os._exit(N), N not 0: its status wins over 4, the report
    is printed all the same; 1 gradviz's own error; 2 usage; 130 Ctrl-C. A reader of stdout that
    leaves early (``| head -1``) changes none of these: the rest of the report goes nowhere,
    quietly.
    """
    from ..doctor.findings import EXPLAINS_FAILURE, counts, to_json
    from ..doctor.report import print_report

    selection = parse_call(call)
    as_json = fmt is DoctorFormat.json or (fmt is None and output not in (None, "-"))
    if output not in (None, "-"):
        check_writable(output)
    if output == "-" and not as_json:
        raise fail("-o - writes JSON: add --format json", code=EXIT_USAGE)
    to_stdout = as_json and output in (None, "-")
    try:
        run = run_captured(
            script,
            args or [],
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
    calls = run.recorded.count
    if as_json:
        text = json.dumps(to_json(findings, script=str(script), calls=calls), indent=2) + "\n"
        target = "-" if to_stdout or output is None else output
        try:
            put(target, text)
        except GradvizError as exc:
            raise fail(str(exc)) from None
        except BrokenPipeError:  # `| head`: the rest goes nowhere
            stdout_to_devnull()
        if target != "-":
            err.print(f"wrote {escape(target)} ({count_of(len(findings), 'finding')})")
    else:
        print_report(report_console(), findings, script=str(script), calls=calls)

    tally = counts(findings)
    if run.error is not None and (run.interrupted or run.exited):  # a CI step keeps its status
        raise typer.Exit(script_exit_code(run.error))
    explained = any(f.code in EXPLAINS_FAILURE for f in findings)
    if run.error is not None and not explained:
        raise typer.Exit(EXIT_SCRIPT_FAILED)
    if tally["error"] or tally["warning"]:
        raise typer.Exit(EXIT_FINDINGS)
