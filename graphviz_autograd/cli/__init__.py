"""The `gradviz` command: parse, call the library, print, pick the exit code.

Exit codes: 0 success; 1 a gradviz error (missing script, syntax error, nothing to draw,
unwritable output, no Graphviz, layout timeout); 2 bad usage; 3 the script raised (graphs
captured before the error are still written); 4 `doctor` found a warning or an error;
130 interrupted with Ctrl-C; 143 SIGTERM during layout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Optional

import typer
from rich.console import Console

try:  # typer >= 0.16 ships its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import (  # type: ignore[no-redef,import-not-found,assignment,unused-ignore]
        ClickException,
    )
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..api import (
    DEFAULT_LAYOUT_TIMEOUT,
    FORMATS,
    Format,
    encode,
    fold_budget,
    fold_for,
    write_dot_beside,
)
from ..api import draw as draw_picture
from ..errors import GradvizError, LayoutTimeoutError
from ..files import write_atomic
from ..model import OP_SHAPES_UP_TO, Graph
from ..renderers.dot import EDGE_GRADS_UP_TO
from ..renderers.labels import count_of
from ..renderers.layout import IMAGE_FORMATS, INSTALL_HINT, find_dot, run_dot
from ..renderers.style import shared_scale
from ..renderers.tree import print_graph_tree
from ..trace.script import graph_globals, run_script, script_traceback
from ..transform.collapse import collapse_modules
from ..transform.fold import DEFAULT_MAX_NODES

if TYPE_CHECKING:
    from ..trace.record import BackwardCall, Keep
    from ..trace.walk import WalkOptions

__all__ = ["app", "main"]

EXIT_ERROR: Final = 1
EXIT_SCRIPT_FAILED: Final = 3
EXIT_INTERRUPTED: Final = 130
EXIT_FINDINGS: Final = 4
EXIT_TERMINATED: Final = 143  # 128 + SIGTERM, as a shell reports it

EXAMPLES: Final = """\
[bold]Examples[/]

[dim]# graph of the first backward call, written to train.svg[/]
gradviz run train.py

gradviz run train.py -o loss.png --call last
gradviz run train.py --call all -o g.svg      [dim]# g-1.svg, g-2.svg, …[/]
gradviz run train.py --var loss -f json -o -  [dim]# a global, JSON to stdout[/]
gradviz tree train.py                         [dim]# a tree in the terminal[/]
gradviz run train.py -o g.svg -- --epochs 3   [dim]# after --: script args[/]
gradviz doctor train.py                       [dim]# autograd pitfalls, with fixes[/]

gradviz diff train.py --calls 1 3 -o d.svg    [dim]# two calls compared[/]

[bold]Exit codes[/]  0 ok · 1 error · 2 bad usage · 3 the script raised · 4 diff: the
structure differs · 130 Ctrl-C
"""

app = typer.Typer(
    name="gradviz",
    help="See what PyTorch autograd did: draw the graph behind a script's backward calls.",
    epilog=EXAMPLES,
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


class OutputFormat(str, Enum):
    svg = "svg"
    png = "png"
    pdf = "pdf"
    dot = "dot"
    json = "json"
    html = "html"
    mermaid = "mermaid"
    tree = "tree"


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"
    BT = "BT"
    RL = "RL"


def _parse_call(value: str) -> Keep:
    if value in ("first", "last", "all"):
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    parts = value.split(".")
    if len(parts) > 1 and all(p.isdigit() and int(p) >= 1 for p in parts):
        return value  # a call made inside another: 1.1
    raise typer.BadParameter(
        f"{value!r}: use first, last, all, a call number from 1, or a call made inside one (1.1)",
        param_hint="'--call'",
    )


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"gradviz {version('gradviz')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """See what PyTorch autograd did: draw the graph behind a script's backward calls.

    gradviz runs your script unmodified, records each backward() call (the graph as the engine
    is about to run it, and the gradients right after) and writes the graph you choose.
    """


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


def _targets(
    script: Path, output: str | None, fmt: OutputFormat | None, names: list[str]
) -> tuple[Format | None, list[str]]:
    """The format and the output paths, one per graph ``names`` names (``-`` is stdout; [] with
    format None means tree): ``output`` itself for one graph, else ``g-1.svg``, ``g-1.1.svg``."""
    count = len(names)
    if fmt is OutputFormat.tree:
        return None, []
    if output == "-":
        if fmt in (OutputFormat.png, OutputFormat.pdf):
            raise _fail(f"{fmt.value} is binary: give a file path with -o, not -")
        return (fmt.value if fmt else "dot"), ["-"] * count
    if output is None:
        kind: Format = fmt.value if fmt else "svg"
        output = f"{script.stem}.{kind}"
    suffix = Path(output).suffix.lower()
    if fmt is not None:
        kind = fmt.value
    elif suffix in FORMATS:
        kind = FORMATS[suffix]
    else:
        raise _fail(f"cannot tell the format of {output!r}: use --format or a known extension")
    if count == 1:
        return kind, [output]
    p = Path(output)
    return kind, [str(p.with_name(f"{p.stem}-{name}{p.suffix}")) for name in names]


def _check_writable(path: str, *, folder_only: bool = False) -> None:
    parent = Path(path).parent
    if not parent.is_dir():
        raise _fail(f"cannot write {path}: folder {parent} does not exist")
    if not folder_only and Path(path).is_dir():
        raise _fail(f"cannot write {path}: it is a folder, not a file")
    if not os.access(parent, os.W_OK):
        raise _fail(f"cannot write {path}: permission denied")


@contextlib.contextmanager
def _status() -> Iterator[Callable[[str], None]]:
    """On a terminal, a spinner with the elapsed time, whose text the function yielded sets;
    cleared at the end. Elsewhere nothing is shown."""
    if not err.is_terminal:
        yield lambda text: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)
        yield lambda text: progress.update(task, description=text, refresh=True)


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """SIGTERM raises SystemExit (exit 143) instead of ending the process on the spot, so that
    `dot` is stopped on the way out; on Linux the kernel stops it in any case (`run_dot`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _put(target: str, data: str | bytes) -> None:
    """Write ``data`` to the file ``target`` atomically, or to stdout for ``-``."""
    if target == "-":
        sys.stdout.write(data if isinstance(data, str) else data.decode())
        sys.stdout.flush()
        return
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise GradvizError(f"cannot write {target}: {exc.strerror or exc}") from None


def _write(graph: Graph, kind: Format, target: str, draw: dict[str, Any]) -> None:
    started = time.monotonic()
    redrawn: tuple[str, ...] = ()
    # Folding a million nodes, layout, and writing the DOT or JSON of a big graph each take a
    # while: say which is going on. Ctrl-C stops `dot` at once.
    with _status() as say:
        if kind in IMAGE_FORMATS:
            try:
                with _sigterm_exits():
                    data, shown, redrawn, chosen = draw_picture(graph, kind, status=say, **draw)
                if chosen is not None and not redrawn:
                    redrawn = (f"modules deeper than {chosen} levels as one node (--depth N)",)
            except LayoutTimeoutError as exc:
                beside = None if target == "-" else write_dot_beside(target, exc)
                hint = (
                    f"its DOT is in {beside} (`dot -T{kind} {beside} -o {target}` lays it out "
                    "without a limit)"
                    if beside
                    else "--format dot writes its DOT"
                )
                raise GradvizError(
                    f"{exc}; {hint}, or allow more time with --layout-timeout SECONDS (0: no limit)"
                ) from None
        else:
            budget = fold_budget(kind, draw.get("max_nodes"))
            if budget and len(graph) > budget:
                say(f"folding {count_of(len(graph), 'node')}")
            shown = fold_for(graph, kind, draw.get("max_nodes"))  # Mermaid: to fit its limits
            say(f"writing {kind.upper()}: {count_of(len(shown), 'node')}")
            keys = ("rankdir", "show_order", "edge_grads", "scale", "labels")
            options = {k: draw[k] for k in keys if k in draw}
            if kind == "html":  # the whole graph goes in: it opens folded, unfolds in the page
                data = encode(graph, kind, max_nodes=budget, folded=shown, **options)
            else:
                data = encode(shown, kind, max_nodes=0, **options)
    _put(target, data)
    if target == "-":
        return
    folded = "" if len(shown) == len(graph) else f"{count_of(len(graph), 'node')} folded to "
    again = "".join(f"; {line}" for line in redrawn)
    err.print(
        f"wrote {escape(target)} ({folded}{count_of(len(shown), 'node')}, "
        f"{count_of(shown.edge_count, 'edge')}, {time.monotonic() - started:.1f} s{escape(again)})"
    )


def _run(
    script: Path,
    args: list[str],
    output: str | None,
    fmt: OutputFormat | None,
    call: str,
    var: str | None,
    options: WalkOptions,
    draw: dict[str, Any],
) -> None:
    # torch loads here, not at start-up, so --help and usage errors answer at once.
    from ..trace.naming import names_in
    from ..trace.record import capture
    from ..trace.walk import build_graph

    keep = _parse_call(call)
    kind, paths = _targets(script, output, fmt, ["1"])
    if kind in IMAGE_FORMATS and find_dot() is None:
        raise _fail(INSTALL_HINT)
    for target in paths:
        if target != "-":  # with --call all only the folder is known yet
            _check_writable(target, folder_only=keep == "all")
    redirect = contextlib.redirect_stdout(sys.stderr) if "-" in paths else contextlib.nullcontext()
    # The one call to draw is written as soon as it is recorded: a script that ends with
    # os._exit, or crashes in native code, after it loses nothing.
    written: list[BaseException | None] = []
    stdout = sys.stdout  # the script's prints go to stderr while it runs: not the document

    def write_now(call: BackwardCall) -> None:
        if kind is None or var is not None:  # the tree prints at the end, after the script's
            return
        try:
            with contextlib.redirect_stdout(stdout):
                _output([call.graph], kind, paths, draw)
        except Exception as exc:  # said (or raised) once the script is done, not into it
            written.append(exc)
        except BaseException as exc:  # Ctrl-C, SIGTERM during layout: the script stops too
            written.append(exc)
            raise
        else:
            written.append(None)

    try:
        with (
            redirect,
            capture(keep=keep, namespace=_script_globals, on_record=write_now, **options) as cap,
        ):
            result = run_script(script, args)
    except GradvizError as exc:
        raise _fail(str(exc)) from None

    stopped = written[0] if written else None
    if isinstance(stopped, KeyboardInterrupt):
        raise _fail("interrupted", EXIT_INTERRUPTED)
    if isinstance(stopped, SystemExit):
        raise stopped
    failed = result.error
    reader_left = isinstance(failed, BrokenPipeError)  # `gradviz tree s.py | head`
    if reader_left:  # nothing to say: what is left of stdout goes nowhere
        _stdout_to_devnull()
        failed = None
    if failed is not None:
        if isinstance(failed, KeyboardInterrupt):
            err.print("[yellow]interrupted:[/] writing what was captured so far")
        elif isinstance(failed, SystemExit):
            err.print(f"[yellow]the script exited:[/] {escape(str(failed.code))}")
        else:
            sys.stderr.write(script_traceback(failed))
            sys.stderr.flush()

    graphs: list[Graph]
    names = ["1"]
    if var is not None:
        if var not in result.globals:
            names = graph_globals(result.globals)
            hint = f"; tensors with a graph: {', '.join(names)}" if names else ""
            raise _fail(f"the script has no global named {var!r}{hint}")
        try:
            known = names_in(result.globals)
            graphs = [build_graph(result.globals[var], params=known, **options)]
        except GradvizError as exc:
            raise _fail(f"--var {var}: {exc}") from None
    else:
        calls = cap.calls if keep == "all" else cap.calls[-1:]
        graphs, names = [c.graph for c in calls], [c.name for c in calls]
        if not graphs:
            tensors = graph_globals(result.globals)
            if keep in ("first", "last", "all") or cap.count == 0:
                what = "the script made no backward call"
            elif isinstance(keep, str):
                what = (
                    f"--call {keep}: no such call; the script made "
                    f"{count_of(cap.count, 'backward call')}, and {cap.inner_count:,} inside them"
                )
            else:
                what = f"--call {keep}: the script made only {cap.count} backward call(s)"
            hint = (
                f"; render one of its tensors with --var NAME: {', '.join(tensors)}"
                if tensors
                else "; use --var NAME to draw one of its tensors"
            )
            code = _exit_code(failed) if failed else EXIT_ERROR
            raise _fail(what + hint, code)

    kind, paths = _targets(script, output, fmt, names)
    if len(graphs) > 1:  # --call all: one shading scale, so that the calls compare
        draw = {**draw, "scale": shared_scale(graphs)}
    try:
        if written and written[0] is not None:
            raise written[0]
        if not written:
            _output(graphs, kind, paths, draw)
    except GradvizError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", EXIT_INTERRUPTED) from None
    if failed is not None:
        raise typer.Exit(_exit_code(failed))
    if reader_left:
        raise typer.Exit(EXIT_ERROR)


def _stdout_to_devnull() -> None:
    """Send stdout, whose reader has gone, to /dev/null: the flush at exit fails no more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _output(
    graphs: list[Graph], kind: Format | None, paths: list[str], draw: dict[str, Any]
) -> None:
    """Write each graph to its path, or print it as a tree (``kind`` None)."""
    depth = draw.get("depth")
    if depth is not None and kind not in IMAGE_FORMATS:  # pictures collapse as they fold
        graphs = [collapse_modules(g, depth) for g in graphs]
    if kind is None:
        for graph in graphs:
            graph = fold_for(graph, "tree", draw.get("max_nodes"))
            print_graph_tree(graph, console=_tree_console(), full=draw.get("labels") == "full")
        return
    for graph, target in zip(graphs, paths, strict=True):
        if target != "-":
            _check_writable(target)
        _write(graph, kind, target, draw)


def _script_globals() -> dict[str, Any]:
    """The running script's globals: where module variable names come from."""
    return vars(sys.modules["__main__"])


def _tree_console() -> Console:
    """stdout for trees; unbounded width when not a terminal, so deep levels are not cut off."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 100_000)


def _exit_code(exc: BaseException) -> int:
    return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else EXIT_SCRIPT_FAILED


Script = Annotated[
    Path,
    typer.Argument(help="The Python script to run, as `python SCRIPT` would.", show_default=False),
]
Args = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer reads this annotation at runtime on 3.10)
    typer.Argument(help="Arguments for the script (put them after -- to pass them untouched)."),
]
ShowSaved = Annotated[
    bool, typer.Option("--show-saved", help="Draw the tensors each op saved for backward.")
]
ShowAttrs = Annotated[
    bool, typer.Option("--show-attrs", help="List each op's non-tensor saved attributes.")
]
MaxNodes = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--max-nodes",
        metavar="N",
        min=0,
        help=f"Fold bigger graphs (runs of one op, repeated branches and blocks) to at most N "
        "nodes, and 2N counting the ranks long edges cross, before drawing; 0: never. Default "
        f"{DEFAULT_MAX_NODES:,} for pictures and the tree; DOT and JSON are folded only when "
        "this is given.",
    ),
]
WithSource = Annotated[
    bool,
    typer.Option(
        "--source/--no-source",
        help="Record the line of your code that made each op (on until the chosen call is "
        "recorded; about 10 µs per torch call).",
    ),
]
Depth = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--depth",
        metavar="N",
        min=1,
        help="Draw each module nested deeper than N levels as one node (model.encoder is 2). "
        "Pictures that folding cannot make small enough get a depth chosen for them.",
    ),
]
WithModules = Annotated[
    bool,
    typer.Option(
        "--modules/--no-modules",
        help="Group ops by the nn.Module that made them (on until the chosen call is recorded).",
    ),
]
OpShapes = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--op-shapes/--no-op-shapes",
        help=f"Record each op's output shape and dtype. Default: for graphs of at most "
        f"{OP_SHAPES_UP_TO:,} nodes (reading them costs more than walking the graph).",
        show_default=False,
    ),
]
EdgeGrads = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--edge-grads/--no-edge-grads",
        help=f"Label each edge with the gradient that flowed along it (-1.5, or its norm) and, "
        f"for a scalar, the local derivative (×0.5). Default: for graphs of at most "
        f"{EDGE_GRADS_UP_TO} nodes.",
        show_default=False,
    ),
]


class LabelDetail(str, Enum):
    short = "short"
    attrs = "attrs"
    full = "full"


LabelsOption = Annotated[
    Optional[LabelDetail],  # noqa: UP045
    typer.Option(
        "--labels",
        help="What node labels show beyond name, shape and gradient: `attrs` each op's "
        "attributes (the default with --show-attrs), `full` also gradient values and the "
        "source line, so that PNG, PDF and the tree show what SVG tooltips do.",
        show_default=False,
    ),
]
ShowInputs = Annotated[
    bool,
    typer.Option("--show-inputs", help="Draw op inputs that need no grad (constants, numbers)."),
]
Call = Annotated[
    str,
    typer.Option(
        "--call",
        "-c",
        metavar="first|last|all|N|N.K",
        help=(
            "Which backward call to draw; `all` writes one file per call (g-1.svg, g-2.svg, …), "
            "or with `-o -` each document in turn. N counts the script's own calls; N.K is the "
            "K-th call made inside call N (a reentrant checkpoint's recompute)."
        ),
    ),
]
Var = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--var", metavar="NAME", help="Draw the script's global NAME after it ends, instead."
    ),
]
RUN_SETTINGS: Final = {"allow_extra_args": True}  # script options go after --


@app.command("run", context_settings=RUN_SETTINGS)
def run_command(
    script: Script,
    args: Args = None,
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Output file; its extension picks the format. `-` writes text to stdout: DOT, "
            "unless --format says otherwise. "
            "Default: SCRIPT's name with .svg (or the --format), in the current folder.",
        ),
    ] = None,
    fmt: Annotated[
        Optional[OutputFormat],  # noqa: UP045
        typer.Option("--format", "-f", help="Output format (default: from -o, else svg)."),
    ] = None,
    call: Call = "first",
    var: Var = None,
    show_saved: ShowSaved = False,
    show_attrs: ShowAttrs = False,
    show_inputs: ShowInputs = False,
    source: WithSource = True,
    modules: WithModules = True,
    op_shapes: OpShapes = None,
    show_order: Annotated[
        bool, typer.Option("--show-order", help="Number nodes in the order backward ran them.")
    ] = False,
    edge_grads: EdgeGrads = None,
    labels: LabelsOption = None,
    max_nodes: MaxNodes = None,
    depth: Depth = None,
    rankdir: Annotated[
        RankDir, typer.Option("--rankdir", help="Layout direction: TB puts leaves on top.")
    ] = RankDir.TB,
    layout_timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--layout-timeout",
            metavar="SECONDS",
            min=0,
            help=f"Time allowed for Graphviz layout (default {DEFAULT_LAYOUT_TIMEOUT:g}; 0: no "
            "limit). A layout that takes too long is folded further and retried within it; "
            "when none finishes, the DOT is written next to the file.",
        ),
    ] = None,
) -> None:
    """Run SCRIPT, record its backward calls, and write the graph of one (or all)."""
    options: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    draw = {
        "rankdir": rankdir.value,
        "show_order": show_order,
        "edge_grads": edge_grads,
        # --show-attrs shows them in every format: in the labels too, not only in tooltips.
        "labels": labels.value if labels else ("attrs" if show_attrs else "short"),
        "timeout": layout_timeout,
        "max_nodes": max_nodes,
        "depth": depth,
    }
    _run(script, args or [], output, fmt, call, var, options, draw)


@app.command("tree", context_settings=RUN_SETTINGS)
def tree_command(
    script: Script,
    args: Args = None,
    call: Call = "first",
    var: Var = None,
    show_saved: ShowSaved = False,
    show_attrs: ShowAttrs = False,
    show_inputs: ShowInputs = False,
    source: WithSource = True,
    modules: WithModules = True,
    op_shapes: OpShapes = None,
    labels: LabelsOption = None,
    max_nodes: MaxNodes = None,
    depth: Depth = None,
) -> None:
    """Run SCRIPT and print the graph of a backward call as a tree in the terminal."""
    options: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    _run(
        script,
        args or [],
        None,
        OutputFormat.tree,
        call,
        var,
        options,
        {"max_nodes": max_nodes, "depth": depth, "labels": labels.value if labels else "short"},
    )


class DoctorFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("doctor", context_settings=RUN_SETTINGS)
def doctor_command(
    script: Script,
    args: Args = None,
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write the report as JSON to PATH (`-` with --format json: stdout).",
        ),
    ] = None,
    fmt: Annotated[
        Optional[DoctorFormat],  # noqa: UP045
        typer.Option("--format", "-f", help="text (default; json with -o FILE) or json."),
    ] = None,
    call: Annotated[
        str,
        typer.Option(
            "--call",
            "-c",
            metavar="first|last|all|N",
            help="Which backward call's graph to record in full (per-node gradients name the "
            "op behind a non-finite gradient). Every call is watched either way.",
        ),
    ] = "first",
) -> None:
    """Run SCRIPT and diagnose autograd pitfalls: unused, detached or frozen parameters,
    gradients never zeroed, backward twice, in-place changes, where a NaN was born, and more.

    Exit codes: 0 no warning or error; 4 at least one (a failure of the script that the doctor
    explains counts as one: its traceback is still printed); 3 the script raised otherwise;
    1 gradviz's own error; 2 usage; 130 Ctrl-C.
    """
    import json

    from ..doctor.findings import EXPLAINS_FAILURE, counts, to_json
    from ..doctor.report import print_report
    from ..trace.record import capture

    keep = _parse_call(call)
    as_json = fmt is DoctorFormat.json or (fmt is None and output not in (None, "-"))
    if output not in (None, "-"):
        _check_writable(output)
    if output == "-" and not as_json:
        raise _fail("-o - writes JSON: add --format json", code=2)
    to_stdout = as_json and output in (None, "-")
    redirect = contextlib.redirect_stdout(sys.stderr) if to_stdout else contextlib.nullcontext()
    scope: dict[str, dict[str, Any]] = {}  # the script's globals, once it has ended

    def namespace() -> dict[str, Any]:
        return scope["globals"] if scope else _script_globals()

    try:
        with (
            redirect,
            capture(
                keep=keep, namespace=namespace, source=True, modules=True, diagnose=True
            ) as cap,
        ):
            result = run_script(script, args or [])
            scope["globals"] = result.globals
    except GradvizError as exc:
        raise _fail(str(exc)) from None

    failed = result.error
    findings = cap.findings
    if isinstance(failed, KeyboardInterrupt):
        err.print("[yellow]interrupted:[/] the report covers what ran so far")
    elif isinstance(failed, SystemExit):
        err.print(f"[yellow]the script exited:[/] {escape(str(failed.code))}")
    elif failed is not None:
        sys.stderr.write(script_traceback(failed))
        sys.stderr.flush()

    if as_json:
        text = json.dumps(to_json(findings, script=str(script), calls=cap.count), indent=2) + "\n"
        target = "-" if to_stdout or output is None else output
        try:
            _put(target, text)
        except GradvizError as exc:
            raise _fail(str(exc)) from None
        if target != "-":
            err.print(f"wrote {escape(target)} ({count_of(len(findings), 'finding')})")
    else:
        print_report(_tree_console(), findings, script=str(script), calls=cap.count)

    tally = counts(findings)
    if isinstance(failed, KeyboardInterrupt):
        raise typer.Exit(EXIT_INTERRUPTED)
    explained = any(f.code in EXPLAINS_FAILURE for f in findings)
    if failed is not None and not explained:  # sys.exit(1) included, as for `run`
        raise typer.Exit(EXIT_SCRIPT_FAILED)
    if tally["error"] or tally["warning"]:
        raise typer.Exit(EXIT_FINDINGS)


EXIT_STRUCTURE_DIFFERS: Final = 4


def _pick_call(calls: list[Any], keep: Keep) -> Any | None:
    """The recorded call that ``keep`` (first, last, N or N.K) names, or None."""
    own = [c for c in calls if not c.inner]
    if keep == "first":
        return own[0] if own else None
    if keep == "last":
        return own[-1] if own else None
    name = str(keep)
    return next((c for c in calls if c.name == name), None)


def _diff_sources(
    sources: list[str], calls: tuple[str, str] | None, args: list[str]
) -> list[tuple[Graph, str]]:
    """Graphs A and B with what to call them: read from JSON files, or recorded by running
    one script (two of its calls) or two scripts (one call of each)."""
    from ..renderers.json import from_json

    keeps = [_parse_call(c) for c in calls] if calls else ["first", "first"]
    if "all" in keeps:
        raise _fail("--calls takes two single calls: first, last, N or N.K, not all")
    scripts = [s for s in sources if not s.lower().endswith(".json")]
    if len(sources) == 1 and not scripts:
        raise _fail("give two JSON graphs, or a script with --calls A B")
    if args and not scripts:
        raise _fail(f"unexpected argument {args[0]!r}: compare two graphs, A and B")
    if calls and not scripts:
        raise _fail("--calls picks backward calls of scripts; JSON files hold one graph each")
    if len(sources) == 1 and calls is None:
        raise _fail("one script: say which two of its backward calls to compare, --calls 1 3")
    out: list[tuple[Graph, str]] = []
    if len(sources) == 1:
        runs = [(sources[0], keeps)]
    else:
        runs = [(s, [k]) for s, k in zip(sources, keeps, strict=True)]
    for source, wanted in runs:
        if source.lower().endswith(".json"):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise _fail(f"cannot read {source}: {exc.strerror or exc}") from None
            try:
                out.append((from_json(text), source))
            except GradvizError as exc:
                raise _fail(f"{source}: {exc}") from None
            continue
        from ..trace.record import capture

        keep: Keep = "all" if len(wanted) > 1 else wanted[0]
        try:
            with (
                contextlib.redirect_stdout(sys.stderr),
                capture(keep=keep, namespace=_script_globals, source=True, modules=True) as cap,
            ):
                result = run_script(Path(source), args)
        except GradvizError as exc:
            raise _fail(str(exc)) from None
        if result.error is not None:
            sys.stderr.write(script_traceback(result.error))
            raise typer.Exit(_exit_code(result.error))
        for k in wanted:
            call = _pick_call(cap.calls, k)
            if call is None:
                made = count_of(cap.count, "backward call")
                raise _fail(f"{source}: no backward call {k}; it made {made}")
            out.append((call.graph, f"{source} call {call.name}"))
    return out


@app.command("diff", context_settings=RUN_SETTINGS)
def diff_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Two graphs: JSON files gradviz wrote or scripts (one call each), or one script "
            "with --calls A B. Script arguments go after --.",
            metavar="A [B]",
            show_default=False,
        ),
    ],
    calls: Annotated[
        Optional[tuple[str, str]],  # noqa: UP045
        typer.Option(
            "--calls",
            metavar="A B",
            help="The backward calls to compare (first, last, N or N.K): of the one script, or "
            "one of each of two scripts. Default: first first.",
        ),
    ] = None,
    output: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write the comparison: .json (gradviz-diff), or graph B with the changes "
            "coloured (.svg .png .pdf .dot). Repeat for several; `-` writes JSON to stdout.",
        ),
    ] = None,
) -> None:
    """Compare two autograd graphs by structure: nodes added, removed and changed (shape,
    dtype, gradient). Exit 0 when the structure is the same, 4 when it differs."""
    from ..renderers.diff import to_diff_dot, to_diff_json, to_report
    from ..transform.diff import compare

    graph_paths = [s for s in sources[:2] if s.lower().endswith((".json", ".py"))] or sources[:1]
    args = sources[len(graph_paths) :]
    targets = output or []
    kinds = ["json" if t == "-" else FORMATS.get(Path(t).suffix.lower()) for t in targets]
    for target, kind in zip(targets, kinds, strict=True):
        if kind not in ("json", "dot", *IMAGE_FORMATS):
            raise _fail(
                f"cannot tell the format of {target!r}: use .json, .svg, .png, .pdf or .dot"
            )
        if target != "-":
            _check_writable(target)
        if kind in IMAGE_FORMATS and find_dot() is None:
            raise _fail(INSTALL_HINT)
    (a, a_name), (b, b_name) = _diff_sources(graph_paths, calls, args)
    comparison = compare(a, b)
    try:
        for target, kind in zip(targets, kinds, strict=True):
            data: str | bytes
            if kind == "json":
                data = to_diff_json(comparison)
            else:  # graph B, folded as a picture of it would be
                text = to_diff_dot(comparison, shown=fold_for(b, kind))  # type: ignore[arg-type]
                picture: Any = kind  # svg, png or pdf: checked above
                layout = DEFAULT_LAYOUT_TIMEOUT
                data = text if kind == "dot" else run_dot(text, picture, timeout=layout)
            _put(target, data)
            if target != "-":
                err.print(f"wrote {escape(target)}")
    except GradvizError as exc:
        raise _fail(str(exc)) from None
    report = Console(
        highlight=False, stderr="-" in targets, width=None if sys.stdout.isatty() else 120
    )
    report.print(to_report(comparison, a=f"A = {a_name}", b=f"B = {b_name}"))
    raise typer.Exit(0 if comparison.same_structure else EXIT_STRUCTURE_DIFFERS)


def main() -> None:
    """Entry point of the `gradviz` console script: usage errors become one line, exit 2."""
    try:
        code = app(standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # help is printed already
            code = exc.exit_code
        else:
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            name = getattr(exc, "option_name", None)
            if type(exc).__name__ == "NoSuchOption" and ctx is not None and name:
                # Perhaps the script's own option: those go after --.
                path = ctx.command_path
                hint = f"; if it is the script's, put it after --: {path} SCRIPT -- {name}{hint}"
            err.print(f"[red]error:[/] {escape(exc.format_message())}{escape(hint)}")
            code = exc.exit_code
    except BrokenPipeError:  # `gradviz run s.py -o - | head`: the reader has gone
        _stdout_to_devnull()
        code = EXIT_ERROR  # as rich's Console does when the tree's reader goes
    except (KeyboardInterrupt, typer.Abort):
        err.print("[red]interrupted[/]")
        code = EXIT_INTERRUPTED
    sys.exit(code or 0)
