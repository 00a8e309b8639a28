"""Run a user's script as ``__main__`` and keep what it left behind, even when it fails or calls
``os._exit``; under `capture` (`run_captured`), with what it recorded and how it ended."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import GradvizError
from .selection import CallSelection, Keep

if TYPE_CHECKING:
    from .record import BackwardCall, Capture
    from .walk import WalkOptions

__all__ = [
    "ScriptResult",
    "ScriptRun",
    "compile_script",
    "exit_code_of",
    "graph_globals",
    "run_captured",
    "run_script",
    "script_traceback",
]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)  # the whole package


@dataclass(slots=True)
class ScriptResult:
    """The script's module globals and how it ended."""

    globals: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    """The exception it raised (SystemExit with a non-zero code counts, and ``os._exit`` with a
    non-zero status, as SystemExit), or None."""


def compile_script(path: str | os.PathLike[str]) -> types.CodeType:
    """Read and compile ``path``; a missing file or a syntax error is a one-line `GradvizError`."""
    p = Path(path)
    if not p.exists():
        raise GradvizError(f"no such script: {os.fspath(path)}")
    if p.is_dir():
        raise GradvizError(f"{os.fspath(path)} is a directory, not a Python script")
    try:
        source = p.read_bytes()
    except OSError as exc:
        raise GradvizError(f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    if b"\0" in source:  # an image, a program: Python would say "syntax error" at no line
        raise GradvizError(f"{os.fspath(path)} is not a Python script: it is a binary file")
    try:
        return compile(source, os.fspath(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = os.fspath(path) if exc.lineno is None else f"{os.fspath(path)}:{exc.lineno}"
        raise GradvizError(f"{where}: syntax error in the script: {exc.msg}") from None
    except ValueError as exc:  # e.g. null bytes
        raise GradvizError(f"{os.fspath(path)} is not a Python script: {exc}") from None


@contextlib.contextmanager
def _as_main(path: Path, args: list[str], module: types.ModuleType) -> Iterator[None]:
    """Make ``module`` ``__main__``, with ``sys.argv`` and ``sys.path[0]`` as Python would."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    saved_main = sys.modules.get("__main__")
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules["__main__"] = module
    try:
        yield
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


def run_script(
    path: str | os.PathLike[str], args: list[str], *, module: types.ModuleType | None = None
) -> ScriptResult:
    """Run the script at ``path`` with ``sys.argv = [path, *args]``, in ``module`` (default: a
    new `main_module`).

    The script's exceptions are caught and returned, not raised, so whatever it recorded before
    failing can still be used; its globals are kept either way. ``os._exit`` ends it as
    ``sys.exit`` would (see `_os_exit_unwinds`).
    """
    code = compile_script(path)
    if module is None:
        module = main_module(path)
    result = ScriptResult(module.__dict__)
    with _as_main(Path(path), args, module), _os_exit_unwinds():
        try:
            exec(code, module.__dict__)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                result.error = exc
        except _OsExit as exc:
            if exc.status != 0:
                result.error = SystemExit(exc.status)
        except BaseException as exc:  # the script's own failure, Ctrl-C included
            result.error = exc
    return result


class _OsExit(BaseException):
    """Raised in place of ``os._exit(status)`` in the script's thread: not an `Exception`, nor
    a `SystemExit`, so that the script's handlers of those do not take it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@contextlib.contextmanager
def _os_exit_unwinds() -> Iterator[None]:
    """While the script runs, ``os._exit(status)`` called in the thread that runs it raises
    `_OsExit`: the script ends there (its ``finally`` blocks run on the way out) and the
    command writes what was recorded, then exits with ``status``. Called from another of its
    threads, it says on stderr that nothing more is written and ends the process at once, with
    ``status`` (1 for 0); in a forked child (a DataLoader worker) it is the real one."""
    real = os._exit
    pid, thread = os.getpid(), threading.current_thread()

    def unwind(status: int) -> NoReturn:
        if os.getpid() != pid:
            real(status)
        if threading.current_thread() is not thread:
            with contextlib.suppress(Exception):
                print(
                    f"gradviz: the script called os._exit({status}) from a thread: "
                    "what it recorded is not written",
                    file=sys.stderr,
                    flush=True,
                )
            real(status or 1)
        raise _OsExit(status)

    os._exit = unwind
    try:
        yield
    finally:
        os._exit = real


def exit_code_of(code: object) -> int:
    """The status Python exits with after ``sys.exit(code)``: ``code`` when a number, 0 for
    None, else 1 (Python prints the message)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def main_module(path: str | os.PathLike[str]) -> types.ModuleType:
    """A new, empty ``__main__`` module for the script at ``path``: its globals are
    ``module.__dict__``, the same dict before, while and after the script runs."""
    module = types.ModuleType("__main__")
    module.__file__ = os.fspath(path)
    module.__dict__["__builtins__"] = __builtins__
    return module


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """A script run under `capture` (`run_captured`): what it recorded and how it ended."""

    recorded: Capture
    """The calls recorded, how many were made, and the doctor's findings (``diagnose``)."""
    globals: dict[str, Any]
    """The script's module globals, as it left them."""
    error: BaseException | None
    """What ended it early: its exception, ``KeyboardInterrupt`` (Ctrl-C), ``SystemExit``
    with a non-zero code (``os._exit`` with a non-zero status too); None when it ran to the end
    (or exited with 0)."""

    @property
    def calls(self) -> list[BackwardCall]:
        """The recorded calls (see `Capture.calls`)."""
        return self.recorded.calls

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C stopped it."""
        return isinstance(self.error, KeyboardInterrupt)

    @property
    def exited(self) -> bool:
        """Whether it called ``sys.exit`` (or ``os._exit``) with a non-zero status."""
        return isinstance(self.error, SystemExit)

    @property
    def exit_status(self) -> object:
        """The status it gave ``sys.exit`` (a number or a message); None when it did not."""
        return self.error.code if isinstance(self.error, SystemExit) else None

    @property
    def traceback(self) -> str:
        """The traceback of `error` as Python prints it, without gradviz's frames ("" for
        none)."""
        return "" if self.error is None else script_traceback(self.error)


def run_captured(
    path: str | os.PathLike[str],
    args: list[str],
    *,
    keep: Keep | CallSelection = "all",
    options: WalkOptions | None = None,
    diagnose: bool = False,
    on_record: Callable[[BackwardCall], None] | None = None,
    stdout_to_stderr: bool = False,
    history: bool = False,
) -> ScriptRun:
    """Run the script at ``path`` (as `run_script`) inside `capture`, and say how it ended.

    ``keep``, ``on_record``, ``diagnose``, ``history`` and the walk ``options`` are `capture`'s.
    Module and variable names come from the script's globals. ``stdout_to_stderr``: the
    script's prints go to stderr while it runs (stdout carries a document).

    Raises:
        GradvizError: the script is missing or does not compile.
    """
    from .record import capture  # torch loads here, not when the command line starts

    module = main_module(path)
    redirect = (
        contextlib.redirect_stdout(sys.stderr) if stdout_to_stderr else contextlib.nullcontext()
    )
    with (
        redirect,
        capture(
            keep=keep,
            namespace=module.__dict__,
            on_record=on_record,
            diagnose=diagnose,
            history=history,
            **(options or {}),
        ) as recorded,
    ):
        result = run_script(path, args, module=module)
    return ScriptRun(recorded, result.globals, result.error)


def _ours(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR)


def _strip(te: traceback.TracebackException, exc: BaseException) -> None:
    """Drop from ``te`` (of ``exc``) the frames that are gradviz's or hand a torch call to
    gradviz's modes (`frames.handed_to_mode`): Python without gradviz has none of them."""
    from .frames import handed_to_mode  # loaded already: the script ran under capture

    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    handing = {id(f) for frame in frames for f in handed_to_mode(frame)}
    te.stack = traceback.StackSummary.from_list(
        [
            summary
            for summary, frame in zip(te.stack, frames, strict=False)
            if not _ours(summary.filename) and id(frame) not in handing
        ]
    )
    for linked, cause in ((te.__cause__, exc.__cause__), (te.__context__, exc.__context__)):
        if linked is not None and cause is not None:
            _strip(linked, cause)


def script_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as Python would print it, without gradviz's frames."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    _strip(te, exc)
    return "".join(te.format())


def graph_globals(namespace: dict[str, Any]) -> list[str]:
    """Names of the tensors in ``namespace`` that have an autograd graph, in definition order."""
    import torch

    return [
        name
        for name, value in namespace.items()
        if not name.startswith("__")
        and isinstance(value, torch.Tensor)
        and (value.grad_fn is not None or value.requires_grad)
    ]
