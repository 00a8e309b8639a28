"""What the commands share to talk to the terminal and the file system: the stderr console and
its one-line errors, the progress spinner, SIGTERM during layout, writing a document to a file
or stdout, and saying how a script run ended."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import GradvizError
from ..files import write_atomic
from ..trace.script import ScriptRun
from .exits import EXIT_ERROR, EXIT_TERMINATED

__all__ = [
    "check_writable",
    "err",
    "fail",
    "put",
    "report_ending",
    "sigterm_exits",
    "speaking",
    "status",
    "stdout_to_devnull",
    "tree_console",
]

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``message`` as a red error line; the `typer.Exit` to raise with ``code``."""
    err.print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


def tree_console() -> Console:
    """stdout for trees; unbounded width when not a terminal, so deep levels are not cut off."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 100_000)


def check_writable(path: str, *, folder_only: bool = False) -> None:
    """Fail unless ``path`` can be written (``folder_only``: unless its folder can)."""
    parent = Path(path).parent
    if not parent.is_dir():
        raise fail(f"cannot write {path}: folder {parent} does not exist")
    if not folder_only and Path(path).is_dir():
        raise fail(f"cannot write {path}: it is a folder, not a file")
    if not os.access(parent, os.W_OK):
        raise fail(f"cannot write {path}: permission denied")


def put(target: str, data: str | bytes) -> None:
    """Write ``data`` to the file ``target`` atomically, or to stdout for ``-``."""
    if target == "-":
        sys.stdout.write(data if isinstance(data, str) else data.decode())
        sys.stdout.flush()
        return
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise GradvizError(f"cannot write {target}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def speaking(chosen: bool) -> Iterator[None]:
    """gradviz's own messages on stderr (not the script's output, nor its traceback) only if
    ``chosen``: on the ranks of a distributed job that write (`ranks.RankSelection`)."""
    quiet = err.quiet
    err.quiet = quiet or not chosen
    try:
        yield
    finally:
        err.quiet = quiet


@contextlib.contextmanager
def status() -> Iterator[Callable[[str], None]]:
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
def sigterm_exits() -> Iterator[None]:
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


def stdout_to_devnull() -> None:
    """Send stdout, whose reader has gone, to /dev/null: the flush at exit fails no more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def report_ending(run: ScriptRun, *, interrupted: str | None) -> None:
    """Say on stderr how ``run`` ended early, if it did: after Ctrl-C, ``interrupted`` (what
    the output holds); after ``sys.exit``, its status; else the script's traceback. With
    ``interrupted`` None, every ending is told by its traceback."""
    if run.error is None:
        return
    if interrupted is not None and run.interrupted:
        err.print(f"[yellow]interrupted:[/] {interrupted}")
    elif interrupted is not None and run.exited:
        err.print(f"[yellow]the script exited:[/] {escape(str(run.exit_status))}")
    else:
        sys.stderr.write(run.traceback)
        sys.stderr.flush()
