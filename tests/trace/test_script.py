"""runner.py: compiling and running a script as ``__main__``, its traceback, its tensors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.trace.script import (
    compile_script,
    graph_globals,
    run_script,
    script_traceback,
)

PACKAGE_DIR = str(Path(__file__).resolve().parents[2] / "graphviz_autograd")


def write(folder: Path, source: str | bytes, name: str = "s.py") -> Path:
    path = folder / name
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source, encoding="utf-8")
    return path


# --- compile_script -------------------------------------------------------------------------


def test_compile_script_returns_code_named_after_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x = 1\n")
    code = compile_script(path)
    assert code.co_filename == str(path)


def test_compile_script_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GradvizError, match=r"^no such script: .*nope\.py$"):
        compile_script(tmp_path / "nope.py")


def test_compile_script_folder(tmp_path: Path) -> None:
    with pytest.raises(GradvizError, match="is a directory"):
        compile_script(tmp_path)


def test_compile_script_syntax_error_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "x = 1\n\ndef f(:\n    pass\n")
    with pytest.raises(GradvizError) as info:
        compile_script(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: syntax error")
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_compile_script_null_bytes_are_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, b"x = 1\x00\n")
    with pytest.raises(GradvizError) as info:
        compile_script(path)
    assert "\n" not in str(info.value)


# --- run_script -----------------------------------------------------------------------------


def test_run_script_runs_as_main_with_argv_and_path_then_restores_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "import sys\nname = __name__\nargv = list(sys.argv)\npath0 = sys.path[0]\n"
        "main_is_me = sys.modules['__main__'].__dict__ is globals()\n",
    )
    argv, path_list, main = list(sys.argv), list(sys.path), sys.modules["__main__"]
    result = run_script(path, ["--flag", "x"])
    assert result.error is None
    assert result.globals["name"] == "__main__"
    assert result.globals["argv"] == [str(path), "--flag", "x"]
    assert result.globals["path0"] == str(tmp_path.resolve())
    assert result.globals["main_is_me"] is True
    assert result.globals["__file__"] == str(path)
    assert (sys.argv, sys.path, sys.modules["__main__"]) == (argv, path_list, main)


def test_run_script_keeps_globals_and_returns_the_error(tmp_path: Path) -> None:
    path = write(tmp_path, "before = 1\nraise RuntimeError('boom')\nafter = 2\n")
    argv = list(sys.argv)
    result = run_script(path, [])
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == "boom"
    assert result.globals["before"] == 1
    assert "after" not in result.globals
    assert sys.argv == argv


def test_run_script_keyboard_interrupt_is_returned(tmp_path: Path) -> None:
    result = run_script(write(tmp_path, "a = 1\nraise KeyboardInterrupt\n"), [])
    assert isinstance(result.error, KeyboardInterrupt)
    assert result.globals["a"] == 1


@pytest.mark.parametrize("call", ["sys.exit()", "sys.exit(0)", "sys.exit(None)"])
def test_run_script_successful_exit_is_no_error(tmp_path: Path, call: str) -> None:
    result = run_script(write(tmp_path, f"import sys\na = 1\n{call}\nb = 2\n"), [])
    assert result.error is None
    assert result.globals["a"] == 1 and "b" not in result.globals


@pytest.mark.parametrize("call", ["sys.exit(4)", "sys.exit('bad input')"])
def test_run_script_failing_exit_is_an_error(tmp_path: Path, call: str) -> None:
    result = run_script(write(tmp_path, f"import sys\n{call}\n"), [])
    assert isinstance(result.error, SystemExit)


def test_run_script_compile_errors_raise_before_running(tmp_path: Path) -> None:
    with pytest.raises(GradvizError, match="syntax error"):
        run_script(write(tmp_path, "print('ran')\nif\n"), [])


# --- script_traceback -----------------------------------------------------------------------


def test_script_traceback_has_the_script_frames_and_none_of_ours(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "def inner():\n    raise ValueError('deep')\n\ndef outer():\n    inner()\n\nouter()\n",
    )
    result = run_script(path, [])
    assert result.error is not None
    text = script_traceback(result.error)
    assert text.startswith("Traceback (most recent call last):\n")
    assert f'File "{path}", line 7, in <module>' in text
    assert f'File "{path}", line 2, in inner' in text
    assert text.rstrip().endswith("ValueError: deep")
    assert PACKAGE_DIR not in text and "runner.py" not in text


def test_script_traceback_strips_our_frames_from_chained_exceptions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    raise KeyError('k') from e\n",
    )
    result = run_script(path, [])
    assert isinstance(result.error, KeyError)
    text = script_traceback(result.error)
    assert "ZeroDivisionError" in text and "KeyError: 'k'" in text
    assert "direct cause" in text
    assert text.count(f'File "{path}"') == 2
    assert PACKAGE_DIR not in text


# --- graph_globals --------------------------------------------------------------------------


def test_graph_globals_names_tensors_with_a_graph_in_definition_order() -> None:
    leaf = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        frozen = leaf * 2
    namespace = {
        "__hidden__": leaf * 3,
        "loss": (leaf * 2).sum(),
        "plain": torch.zeros(2),
        "frozen": frozen,
        "w": leaf,
        "detached": leaf.detach(),
        "number": 3,
        "_private": leaf + 1,
    }
    assert graph_globals(namespace) == ["loss", "w", "_private"]


def test_graph_globals_of_an_empty_namespace() -> None:
    assert graph_globals({}) == []
