"""Run a user's script as ``__main__`` and keep what it left behind, even when it fails."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GradvizError

__all__ = ["ScriptResult", "compile_script", "graph_globals", "run_script", "script_traceback"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)  # the whole package


@dataclass(slots=True)
class ScriptResult:
    """The script's module globals and how it ended."""

    globals: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    """The exception it raised (SystemExit with a non-zero code counts), or None."""


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
    try:
        return compile(source, os.fspath(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise GradvizError(
            f"{exc.filename}:{exc.lineno}: syntax error in the script: {exc.msg}"
        ) from None
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


def run_script(path: str | os.PathLike[str], args: list[str]) -> ScriptResult:
    """Run the script at ``path`` with ``sys.argv = [path, *args]``.

    The script's exceptions are caught and returned, not raised, so whatever it recorded before
    failing can still be used; its globals are kept either way.
    """
    code = compile_script(path)
    module = types.ModuleType("__main__")
    module.__file__ = os.fspath(path)
    module.__dict__["__builtins__"] = __builtins__
    result = ScriptResult(module.__dict__)
    with _as_main(Path(path), args, module):
        try:
            exec(code, module.__dict__)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                result.error = exc
        except BaseException as exc:  # the script's own failure, Ctrl-C included
            result.error = exc
    return result


def _ours(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR)


def _strip(te: traceback.TracebackException) -> None:
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if not _ours(f.filename)])
    for linked in (te.__cause__, te.__context__):
        if linked is not None:
            _strip(linked)


def script_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as Python would print it, without gradviz's own frames."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    _strip(te)
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
