"""Warnings and errors raised by the user's own lines name those lines, under `gradviz run` and
`capture()`, although a `TorchFunctionMode` of ours sits between their code and each torch call.

The oracle is Python itself: the same script run by `python` reports each warning at a file and
line; `gradviz run` must report the same ones.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import Gradviz

from graphviz_autograd import capture
from graphviz_autograd.trace import modules, relay
from graphviz_autograd.trace.modules import tag_modules

# Line numbers matter: the expected warnings below name them.
WARNS = """\
import warnings
import torch


def helper(x):
    warnings.warn("helper: stacklevel 2", stacklevel=2)
    return x


class Net(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.softmax(x * 2)


w = torch.ones(3, requires_grad=True)
net = Net()
for step in range(3):
    y = (w * 2).sin()
    g = y.grad
    s = torch.nn.functional.softmax(y)
    t = torch.tensor(s)
    warnings.warn("user: stacklevel 1")
    z = helper(net(s))
    z.sum().backward()
"""
# (line, start of the message): each once, the "default" action shows a warning once per line
EXPECTED = {
    (12, "Implicit dimension choice for softmax"),  # Python warning, two modes on the stack
    (19, "The .grad attribute of a Tensor that is not a leaf"),  # C++, through a getter
    (20, "Implicit dimension choice for softmax"),  # Python, through handle_torch_function
    (21, "To copy construct from a tensor"),  # C++, a factory function
    (22, "user: stacklevel 1"),
    (23, "helper: stacklevel 2"),
}
WARNING_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): UserWarning: (?P<message>.*)$")


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def reported(stderr: str) -> list[tuple[str, int, str]]:
    """(file name, line, message) of each UserWarning printed."""
    out = []
    for text in stderr.splitlines():
        match = WARNING_LINE.match(text)
        if match:
            out.append((Path(match["file"]).name, int(match["line"]), match["message"]))
    return out


def expected_in(found: list[tuple[str, int, str]]) -> set[tuple[int, str]]:
    """Each expected (line, message start) that ``found`` holds, in s.py."""
    return {
        (line, start)
        for line, start in EXPECTED
        for name, at, message in found
        if (name, at) == ("s.py", line) and message.startswith(start)
    }


def test_run_reports_warnings_at_the_scripts_lines_as_python_does(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "s.py").write_text(WARNS, encoding="utf-8")
    plain = run(sys.executable, "s.py", cwd=tmp_path)
    drawn = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path, process=True)
    assert plain.returncode == 0 and drawn.returncode == 0, drawn.stderr
    python_says, gradviz_says = reported(plain.stderr), reported(drawn.stderr)
    assert expected_in(python_says) == EXPECTED  # the oracle agrees with the line numbers
    assert len(python_says) == len(EXPECTED)
    assert gradviz_says == python_says  # same files, lines, messages, order and count
    assert "graphviz_autograd" not in drawn.stderr
    assert "MulBackward0" in (tmp_path / "g.dot").read_text(encoding="utf-8")


def test_warnings_made_errors_raise_at_the_scripts_line(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(WARNS, encoding="utf-8")
    result = run(
        sys.executable, "-W", "error::UserWarning", "-m", "graphviz_autograd", "run", "s.py",
        "-o", "g.dot", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    frames = re.findall(r'File "([^"]+)", line (\d+)', result.stderr)
    assert frames == [("s.py", "19")]  # the first warning, y.grad: no frame of torch or ours
    assert "UserWarning: The .grad attribute of a Tensor that is not a leaf" in result.stderr


def test_errors_in_torch_calls_show_the_scripts_line_and_no_frame_of_ours(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    source = "import torch\n\nw = torch.ones(3, requires_grad=True)\nz = (w * 2) @ torch.ones(4)\n"
    (tmp_path / "s.py").write_text(source, encoding="utf-8")
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path, process=True)
    assert result.returncode == 3
    traceback = result.stderr[: result.stderr.index("error: ")]
    assert re.findall(r'File "([^"]+)", line (\d+)', traceback) == [("s.py", "4")]
    assert "z = (w * 2) @ torch.ones(4)" in traceback
    assert "RuntimeError: inconsistent tensor size" in traceback


# --- in this process, under capture() ----------------------------------------------------------


def line_of(tag: str) -> int:
    """The line of this file that ends in the comment ``# <tag>`` (there is one)."""
    text = Path(__file__).read_text(encoding="utf-8").splitlines()
    lines = [i for i, line in enumerate(text, 1) if line.endswith(f"# <{tag}>")]
    assert len(lines) == 1, tag
    return lines[0]


class Doubler(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor(x * 2)  # warns, copy-constructing a tensor: # <Doubler>


def test_catch_warnings_records_the_callers_file_and_line() -> None:
    w = torch.ones(3, requires_grad=True)
    y = (w * 2).sin()
    with (
        capture(source=True, modules=True),
        warnings.catch_warnings(record=True) as log,
    ):
        warnings.simplefilter("always")
        y.grad  # noqa: B018 (warns: the .grad of a non-leaf) # <grad>
        F.softmax(y)  # warns: implicit dim # <softmax>
        Doubler()(y)
    assert [(Path(r.filename).name, r.lineno) for r in log] == [
        ("test_warnings.py", line_of("grad")),
        ("test_warnings.py", line_of("softmax")),
        ("test_warnings.py", line_of("Doubler")),
    ]


def test_filters_act_on_the_callers_module_and_registry() -> None:
    w = torch.ones(2, requires_grad=True)
    with capture(source=True), warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("default")  # each warning once per line of each module
        warnings.filterwarnings("ignore", module="torch")  # ignores none of them
        for _ in range(3):
            torch.tensor(w)  # <first>
        torch.tensor(w)  # <second>
        warnings.filterwarnings("ignore", module=re.escape(__name__))  # the caller's: all
        torch.tensor(w)
    assert [r.lineno for r in log] == [line_of("first"), line_of("second")]


def test_the_error_filter_of_pytest_raises_at_the_callers_line() -> None:
    w = torch.ones(2, requires_grad=True)
    assert ("error", None, Warning, None, 0) in warnings.filters  # pyproject's filterwarnings
    with capture(source=True), pytest.raises(UserWarning, match="copy construct") as info:
        torch.tensor(w)  # <raises>
    ours = str(Path(modules.__file__).parent)
    frames = [f for f in info.traceback if not str(f.path).startswith(ours)]
    assert [(Path(f.path).name, f.lineno + 1) for f in frames] == [
        ("test_warnings.py", line_of("raises"))
    ]


def test_the_filter_and_the_hook_go_when_the_modes_do() -> None:
    filters, shown_by = list(warnings.filters), warnings._showwarnmsg  # type: ignore[attr-defined]
    net = torch.nn.Linear(2, 2)
    with capture(source=True, modules=True):
        assert relay._filter is not None and relay._filter in warnings.filters
        assert warnings._showwarnmsg is relay._relay  # type: ignore[attr-defined]
        net(torch.ones(2)).sum().backward()
    with tag_modules():
        net(torch.ones(2))
    assert warnings.filters == filters
    assert warnings._showwarnmsg is shown_by  # type: ignore[attr-defined]
