"""The `gradviz` Typer app: its help, ``--version``, the five commands, and `main`, the console
script, which turns usage errors into one line and the ends of a run into exit codes (see
`exits`)."""

from __future__ import annotations

import sys
from typing import Annotated, Final

import typer
from rich.markup import escape

from .diff import diff_command
from .doctor import doctor_command
from .exits import EXIT_ERROR, EXIT_INTERRUPTED, SCRIPT_EXITS
from .flow import flow_command
from .options import RUN_SETTINGS
from .run import run_command
from .terminal import err, stdout_to_devnull
from .tree import tree_command

__all__ = ["EXAMPLES", "app", "main"]

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
gradviz flow train.py -o flow.svg             [dim]# each layer's gradient norm over the calls[/]

gradviz diff train.py --calls 1 3 -o d.svg    [dim]# two calls compared[/]

[bold]Exit codes[/]  0 ok · 1 error · 2 bad usage · 3 the script raised · 4 doctor: findings,
diff: the structure differs · N the script's sys.exit(N) or os._exit(N), after what was captured
is written (it wins over 4) · 130 Ctrl-C
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


# In this order in the help.
app.command("run", context_settings=RUN_SETTINGS, epilog=SCRIPT_EXITS)(run_command)
app.command("tree", context_settings=RUN_SETTINGS, epilog=SCRIPT_EXITS)(tree_command)
app.command(
    "doctor",
    context_settings=RUN_SETTINGS,
    short_help="Run SCRIPT and say which autograd pitfalls it fell into, and where.",
)(doctor_command)
app.command(
    "flow",
    context_settings=RUN_SETTINGS,
    epilog=SCRIPT_EXITS,
    short_help="Run SCRIPT and print each layer's gradient norm over its backward calls.",
)(flow_command)
app.command(
    "diff",
    context_settings=RUN_SETTINGS,
    short_help="Compare two autograd graphs: nodes added, removed and changed.",
)(diff_command)


def main() -> None:
    """Entry point of the `gradviz` console script: usage errors become one line, exit 2."""
    no_args = not sys.argv[1:]
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # Typer's usage errors (Click's, which it ships)
        code = exc.exit_code
        if not no_args:  # with none, `no_args_is_help` has printed the help already
            err.print(f"[red]error:[/] {escape(exc.format_message())}{escape(_hint(exc))}")
    except BrokenPipeError:  # `gradviz run s.py -o - | head`: the reader has gone
        stdout_to_devnull()
        code = EXIT_ERROR  # as rich's Console does when the tree's reader goes
    except (KeyboardInterrupt, typer.Abort):
        err.print("[red]interrupted[/]")
        code = EXIT_INTERRUPTED
    sys.exit(code or 0)


def _hint(exc: typer.TyperException) -> str:
    """Where to read more; for an unknown option, that the script's own go after ``--``."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return ""
    hint = f" (see {ctx.command_path} --help)"
    name = getattr(exc, "option_name", None)
    # An unknown option (it has a list of the known ones it might be): perhaps the script's.
    if name and hasattr(exc, "possibilities"):
        path = ctx.command_path
        hint = f"; if it is the script's, put it after --: {path} SCRIPT -- {name}{hint}"
    return hint
