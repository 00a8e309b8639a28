"""``gradviz diff``: compare two autograd graphs (JSON files, or calls recorded by running
scripts) by structure, and write the comparison."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import GradvizError
from ..model import Graph
from ..renderers.fitting import fold_for
from ..renderers.formats import Format, resolve
from ..renderers.layout import IMAGE_FORMATS, INSTALL_HINT, find_dot, run_dot
from ..renderers.picture import DEFAULT_LAYOUT_TIMEOUT
from ..text import count_of
from ..trace.script import run_captured
from ..trace.selection import CallSelection
from .exits import EXIT_STRUCTURE_DIFFERS, script_exit_code
from .options import Calls, DiffOutputs, Sources, parse_call
from .options import Format as FormatOption
from .terminal import check_writable, err, fail, put, report_ending

__all__ = ["diff_command"]


def diff_command(
    sources: Sources, calls: Calls = None, output: DiffOutputs = None, fmt: FormatOption = None
) -> None:
    """Compare two autograd graphs by structure: nodes added, removed and changed (shape,
    dtype, gradient). Exit 0 when the structure is the same, 4 when it differs; 3 when a script
    raised, N when it called sys.exit(N) or os._exit(N) (no comparison then)."""
    from ..renderers.diff import to_diff_dot, to_diff_json, to_report
    from ..renderers.diff_page import to_diff_html
    from ..transform.diff import compare

    graph_paths = [s for s in sources[:2] if s.lower().endswith((".json", ".py"))] or sources[:1]
    args = sources[len(graph_paths) :]
    targets = output or []
    named = None if fmt is None else fmt.value
    if named is not None and not targets:
        raise fail(f"-f {named} writes the comparison: say where with -o")
    kinds = [_kind(target, named) for target in targets]
    (a, a_name), (b, b_name) = _diff_sources(graph_paths, calls, args)
    comparison = compare(a, b)
    try:
        for target, kind in zip(targets, kinds, strict=True):
            data: str | bytes
            if kind == "json":
                data = to_diff_json(comparison)
            elif kind == "html":  # both graphs, each folded as its explorer would be
                folded = [fold_for(graph, "html") for graph in (a, b)]
                data = to_diff_html(
                    comparison, folded_a=folded[0], folded_b=folded[1], a_name=a_name, b_name=b_name
                )
            else:  # graph B, folded as a picture of it would be
                text = to_diff_dot(comparison, shown=fold_for(b, kind))
                if kind == "dot":
                    data = text
                else:  # svg, png or pdf: checked by _kind
                    data = run_dot(text, kind, timeout=DEFAULT_LAYOUT_TIMEOUT)  # type: ignore[arg-type]
            put(target, data)
            if target != "-":
                err.print(f"wrote {escape(target)}")
    except GradvizError as exc:
        raise fail(str(exc)) from None
    report = Console(
        highlight=False, stderr="-" in targets, width=None if sys.stdout.isatty() else 120
    )
    report.print(to_report(comparison, a=f"A = {a_name}", b=f"B = {b_name}"))
    raise typer.Exit(0 if comparison.same_structure else EXIT_STRUCTURE_DIFFERS)


def _kind(target: str, named: str | None) -> Format:
    """The format ``-o target`` is written in (``named``: the one ``-f`` names); fails unless
    the comparison can be written in it."""
    written = ("json", "html", "dot", *IMAGE_FORMATS)
    if named is not None and named not in written:
        raise fail(f"a comparison is not written as {named}: use json, html, svg, png, pdf or dot")
    fallback = "json" if target == "-" else None  # `-o -` is JSON unless -f names another
    try:
        kind = resolve(target, named or fallback)
    except GradvizError as exc:
        raise fail(str(exc)) from None
    if kind not in written:
        raise fail(
            f"cannot tell the format of {target!r}: use .json, .html, .svg, .png, .pdf or .dot"
        )
    if target == "-" and kind in ("png", "pdf"):
        raise fail(f"{kind} is binary: give a file path with -o, not -")
    if target != "-":
        check_writable(target)
    if kind in IMAGE_FORMATS and find_dot() is None:
        raise fail(INSTALL_HINT)
    return kind


def _diff_sources(
    sources: list[str], calls: tuple[str, str] | None, args: list[str]
) -> list[tuple[Graph, str]]:
    """Graphs A and B with what to call them: read from JSON files, or recorded by running
    one script (two of its calls) or two scripts (one call of each)."""
    keeps = [parse_call(c) for c in calls] if calls else [CallSelection("first")] * 2
    if any(keep.kind == "all" for keep in keeps):
        raise fail("--calls takes two single calls: first, last, N or N.K, not all")
    scripts = [s for s in sources if not s.lower().endswith(".json")]
    if len(sources) == 1 and not scripts:
        raise fail("give two JSON graphs, or a script with --calls A B")
    if args and not scripts:
        raise fail(f"unexpected argument {args[0]!r}: compare two graphs, A and B")
    if calls and not scripts:
        raise fail("--calls picks backward calls of scripts; JSON files hold one graph each")
    if len(sources) == 1 and calls is None:
        raise fail("one script: say which two of its backward calls to compare, --calls 1 3")
    if len(sources) == 1:
        runs = [(sources[0], keeps)]
    else:
        runs = [(s, [k]) for s, k in zip(sources, keeps, strict=True)]
    out: list[tuple[Graph, str]] = []
    for source, wanted in runs:
        if source.lower().endswith(".json"):
            out.append((_read_graph(source), source))
        else:
            out.extend(_recorded(source, wanted, args))
    return out


def _read_graph(source: str) -> Graph:
    """The graph in the JSON file ``source`` (written by gradviz)."""
    from ..renderers.json import from_json

    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return from_json(text)
    except GradvizError as exc:
        raise fail(f"{source}: {exc}") from None


def _recorded(source: str, wanted: list[CallSelection], args: list[str]) -> list[tuple[Graph, str]]:
    """The graphs of the ``wanted`` calls of the script ``source``, with their names."""
    keep = CallSelection("all") if len(wanted) > 1 else wanted[0]
    try:
        run = run_captured(
            Path(source),
            args,
            keep=keep,
            options={"source": True, "modules": True},
            stdout_to_stderr=True,
        )
    except GradvizError as exc:
        raise fail(str(exc)) from None
    if run.error is not None:
        report_ending(run, interrupted=None)
        raise typer.Exit(script_exit_code(run.error))
    out: list[tuple[Graph, str]] = []
    for selection in wanted:
        call = selection.pick(run.calls)
        if call is None:
            made = count_of(run.recorded.count, "backward call")
            raise fail(f"{source}: no backward call {selection}; it made {made}")
        out.append((call.graph, f"{source} call {call.name}"))
    return out
