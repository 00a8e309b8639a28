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

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import GradvizError
from ..files import is_special, unwritable, write_atomic
from ..ranks import Rank, RankSelection
from ..trace.script import ScriptRun
from .exits import EXIT_ERROR, EXIT_TERMINATED, EXIT_USAGE

__all__ = [
    "check_writable",
    "chosen_rank",
    "each_once",
    "err",
    "fail",
    "put",
    "put_said",
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


def each_once(outputs: list[str]) -> list[str]:
    """``outputs`` (the ``-o`` paths given), refused with a usage error when one comes twice:
    the second would overwrite the first."""
    for k, output in enumerate(outputs):
        if output in outputs[:k]:
            raise fail(f"-o {output} is given twice", EXIT_USAGE)
    return outputs


def chosen_rank(ranks: RankSelection) -> tuple[Rank | None, bool]:
    """This process's rank in a ``torchrun`` job (None outside one) and whether ``ranks``
    chooses it to write and print; a usage error when ``ranks`` names a rank past the job."""
    rank = Rank.from_env()
    try:
        ranks.check(rank)
    except GradvizError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    return rank, ranks.chooses(rank)


def tree_console() -> Console:
    """stdout for trees; unbounded width when not a terminal, so deep levels are not cut off.
    A reader that leaves early (``| head``) ends the command quietly, with status 1."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 100_000)


class _ReaderMayLeave(Console):
    """A `Console` whose reader may leave early (``| head``): the rest of its output goes
    nowhere, quietly, and the command goes on to its own exit status (rich's exits 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        stdout_to_devnull()


def report_console() -> Console:
    """stdout for reports whose exit status says what they found: as `tree_console`, but a
    reader that leaves early does not change the exit status."""
    return _ReaderMayLeave(highlight=False, width=None if sys.stdout.isatty() else 100_000)


def check_writable(path: str, *, folder_only: bool = False) -> None:
    """Fail unless ``path`` can be written (``folder_only``: unless its folder can)."""
    reason = unwritable(path, folder_only=folder_only)
    if reason is not None:
        raise fail(f"cannot write {path}: {reason}")


def put(target: str, data: str | bytes) -> None:
    """Write ``data`` to the file ``target`` (see `write_atomic`), or to stdout for ``-``."""
    if target == "-":
        sys.stdout.write(data if isinstance(data, str) else data.decode())
        sys.stdout.flush()
        return
    if is_special(target):  # maybe /dev/stdout: what was printed before goes first
        sys.stdout.flush()
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise GradvizError(f"cannot write {target}: {exc.strerror or exc}") from None


def put_said(target: str, text: str, summary: str) -> None:
    """`put` ``text``, and say ``wrote TARGET (summary)`` on stderr for a file: an error is
    one line and exit 1; a reader of stdout that has gone (``| head``) gets the rest nowhere."""
    try:
        put(target, text)
    except GradvizError as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        stdout_to_devnull()
    if target != "-":
        err.print(f"wrote {escape(target)} ({summary})")


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
    the output holds; None: its traceback); after ``sys.exit`` or ``os._exit``, its status, or
    its message as Python prints it; else the script's traceback."""
    if run.error is None:
        return
    if interrupted is not None and run.interrupted:
        err.print(f"[yellow]interrupted:[/] {interrupted}")
    elif run.exited and isinstance(run.exit_status, int):
        err.print(f"[yellow]the script exited with status {run.exit_status}[/]")
    elif run.exited:  # sys.exit("message"): Python prints it, and exits 1
        sys.stderr.write(f"{run.exit_status}\n")
        sys.stderr.flush()
    else:
        sys.stderr.write(run.traceback)
        sys.stderr.flush()
