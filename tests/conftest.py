"""Shared fixtures: the `dot`, `browser` and `slow` markers, golden files, a plain terminal, and
`gradviz`, which runs the CLI (in this process, or in a child process where one is needed)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import linecache
import os
import shutil
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

GOLDEN = Path(__file__).parent / "golden"
HAS_DOT = shutil.which("dot") is not None
# GRADVIZ_CHROMIUM=/no/such/file shows the browser tests skip cleanly.
CHROMIUM = os.environ.get("GRADVIZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAS_BROWSER = Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/* from current output"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_dot = pytest.mark.skip(reason="Graphviz `dot` is not installed")
    skip_browser = pytest.mark.skip(reason="Chromium or Playwright for Python is not installed")
    for item in items:
        if "dot" in item.keywords and not HAS_DOT:
            item.add_marker(skip_dot)
        if "browser" in item.keywords and not HAS_BROWSER:
            item.add_marker(skip_browser)


def real_models() -> types.ModuleType:
    """``benchmarks/models.py``: real models built from their configs (``models.mistral()``
    binds the model as ``model`` in ``models.NAMESPACE``); skips the test without the bench
    extra."""
    pytest.importorskip("transformers", reason="needs the bench extra")
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    try:
        import models  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return models  # type: ignore[no-any-return]


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """`golden(name, text)`: compare ``text`` with tests/golden/<name>, or rewrite it."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"{path} missing: run pytest --update-golden and review the diff"
        assert text == path.read_text(encoding="utf-8")

    return check


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Colour settings of the person running the tests must not change rich's output."""
    for var in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM"):
        monkeypatch.delenv(var, raising=False)
    yield


# --- running the CLI ------------------------------------------------------------------------------

GRADVIZ_BIN = Path(sys.executable).parent / "gradviz"


def _fresh_filters() -> list[Any]:
    """The warning filters of a fresh interpreter (a release build, no -W): a script run
    in-process sees these, not pytest's `error` filter, as it would under `gradviz` in a shell."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.simplefilter("ignore", category, append=True)
        warnings.simplefilter("ignore", ResourceWarning, append=True)
        return list(warnings.filters)


_FRESH_FILTERS = _fresh_filters()


class Ran(NamedTuple):
    """What a run of the CLI gave: the fields of `subprocess.CompletedProcess` that tests read."""

    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


class Gradviz:
    """Run the `gradviz` command: in this process by default, in a child process on request.

    In-process runs call the console script's `main()` with ``args`` in ``cwd``, with a fresh
    interpreter's warning filters, and give back what it printed and its exit status; they
    leave ``sys.argv``, ``sys.path``, the environment and the working directory as they were.
    A child process (`process=True`) is for what only a process shows: signals, pipes, imports,
    `os._exit`, the crash on freeing deep graphs.
    """

    def __call__(
        self,
        *args: str | Path,
        cwd: Path,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        process: bool = False,
    ) -> Ran:
        argv = [str(a) for a in args]
        if process:
            done = subprocess.run(
                [str(GRADVIZ_BIN), *argv], cwd=cwd, env=env, capture_output=True, timeout=timeout
            )
            out = done.stdout
            return Ran(done.returncode, out.decode(errors="replace"), done.stderr.decode(), out)
        return _in_process(argv, cwd, env)


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning to stderr, as Python does by default (pytest records them instead)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _from_folder(file: str | None, cwd: Path) -> bool:
    """Whether a module at ``file`` is one a script run in ``cwd`` imported from there, to be
    forgotten after the run. Installed code is not, though a virtual environment inside the
    project (``./.venv``) lies under ``cwd`` too, nor is gradviz itself: forgetting a module
    that torch or gradviz imported on first use (an optimizer step imports ``torch._dynamo``)
    makes the next run import it a second time, beside the copy still in use, which torch does
    not survive (a TORCH_LIBRARY registered twice, a crash in the garbage collector)."""
    import graphviz_autograd

    if not file:
        return False
    path = Path(os.path.abspath(file))
    installed = (sys.prefix, sys.base_prefix, os.path.dirname(graphviz_autograd.__file__))
    return path.is_relative_to(os.path.abspath(cwd)) and not any(
        path.is_relative_to(os.path.abspath(folder)) for folder in installed
    )


def _in_process(argv: list[str], cwd: Path, env: dict[str, str] | None) -> Ran:
    from graphviz_autograd.cli import main

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    stderr = io.StringIO()
    saved = (list(sys.argv), list(sys.path), os.getcwd(), dict(os.environ), set(sys.modules))
    main_module = sys.modules["__main__"]
    code: int | str | None = 0
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        sys.argv[:] = ["gradviz", *argv]
        linecache.clearcache()  # a fresh process has read no file: s.py in another tmp_path
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            warnings.filters[:] = _FRESH_FILTERS
            warnings.showwarning = _print_warning
            sys.modules["__main__"] = types.ModuleType("__main__")  # as under the console script
            try:
                main()
            except SystemExit as exc:
                code = exc.code
            finally:
                sys.modules["__main__"] = main_module
    finally:
        sys.argv[:], sys.path[:], folder, environ, modules = saved
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environ)
        for name in set(sys.modules) - modules:  # modules the script imported from its folder
            if _from_folder(getattr(sys.modules[name], "__file__", None), cwd):
                del sys.modules[name]
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message") prints it and exits 1, as Python does
        stderr.write(f"{code}\n")
        code = 1
    out = stdout.buffer.getvalue()  # type: ignore[attr-defined]
    return Ran(code, out.decode(errors="replace"), stderr.getvalue(), out)


@pytest.fixture
def gradviz() -> Gradviz:
    """``gradviz("run", "s.py", "-o", "g.svg", cwd=tmp_path)``: see `Gradviz`."""
    return Gradviz()
