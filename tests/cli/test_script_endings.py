"""The script's outcome is the script's: after ``os._exit`` every command still writes or prints
what was recorded, ``sys.exit(N)`` and ``os._exit(N)`` give exit N, and a traceback has the
frames ``python`` prints, no more."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Gradviz

# Two backward calls that draw differently (call 2 has an exp), then the ending.
TWO_CALLS = """\
import os, sys, threading, torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
(w * w).sum().backward()
loss = (w * 3).exp().sum()
loss.backward()
"""


def write(folder: Path, ending: str) -> None:
    (folder / "s.py").write_text(TWO_CALLS + ending, encoding="utf-8")


def ops(path: Path) -> set[str]:
    return {n["op"] for n in json.loads(path.read_text())["nodes"] if n.get("op")}


# --- os._exit ------------------------------------------------------------------------------------

OS_EXIT = "try:\n    os._exit(int(sys.argv[1]))\nfinally:\n    print('finally ran')\n"


@pytest.mark.parametrize("status", [0, 7])
def test_run_call_last_after_os_exit_writes_the_graph(
    gradviz: Gradviz, tmp_path: Path, status: int
) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz(
        "run", "s.py", "--call", "last", "-o", "g.json", "--", str(status),
        cwd=tmp_path, process=True,
    )  # fmt: skip
    assert done.returncode == status, done.stderr
    assert "ExpBackward0" in ops(tmp_path / "g.json")
    assert "finally ran" in done.stdout  # the script's finally blocks run under gradviz


def test_run_after_os_exit_writes_every_output(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz(
        "run", "s.py", "--call", "last", "-o", "g.json", "-o", "g.dot", "--", "0",
        cwd=tmp_path, process=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ExpBackward0" in ops(tmp_path / "g.json")
    assert "ExpBackward0" in (tmp_path / "g.dot").read_text()


def test_run_call_all_after_os_exit_writes_every_call(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz(
        "run", "s.py", "--call", "all", "-o", "g.json", "--", "0", cwd=tmp_path, process=True
    )
    assert done.returncode == 0, done.stderr
    assert "ExpBackward0" not in ops(tmp_path / "g-1.json")
    assert "ExpBackward0" in ops(tmp_path / "g-2.json")


def test_run_var_after_os_exit_draws_the_global(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz(
        "run", "s.py", "--var", "loss", "-o", "v.json", "--", "0", cwd=tmp_path, process=True
    )
    assert done.returncode == 0, done.stderr
    assert "ExpBackward0" in ops(tmp_path / "v.json")


def test_tree_after_os_exit_prints_the_tree(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz("tree", "s.py", "--call", "last", "--", "0", cwd=tmp_path, process=True)
    assert done.returncode == 0, done.stderr
    assert "ExpBackward0" in done.stdout


def test_doctor_after_os_exit_reports_and_keeps_the_scripts_status(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    write(tmp_path, OS_EXIT)  # two calls, nothing zeroed in between: a warning
    done = gradviz("doctor", "s.py", "--", "0", cwd=tmp_path, process=True)
    assert done.returncode == 4, done.stderr
    assert "grad-accumulation" in done.stdout
    done = gradviz("doctor", "s.py", "-o", "r.json", "--", "5", cwd=tmp_path, process=True)
    assert done.returncode == 5, done.stderr  # the script's own status wins over findings
    codes = [f["code"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]]
    assert "grad-accumulation" in codes


def test_diff_after_os_exit_compares(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, OS_EXIT)
    done = gradviz("diff", "s.py", "--calls", "1", "2", "--", "0", cwd=tmp_path, process=True)
    assert done.returncode == 4, done.stderr  # the two calls differ in structure
    assert "ExpBackward0" in done.stdout


def test_os_exit_from_another_thread_says_nothing_is_written(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "threading.Thread(target=os._exit, args=(0,)).start()\nimport time\ntime.sleep(30)\n",
    )
    done = gradviz("run", "s.py", "--call", "last", "-o", "g.json", cwd=tmp_path, process=True)
    assert done.returncode != 0
    assert "os._exit(0) from a thread: what it recorded is not written" in done.stderr
    assert not (tmp_path / "g.json").exists()


def test_a_forked_child_gets_the_real_os_exit(gradviz: Gradviz, tmp_path: Path) -> None:
    write(
        tmp_path,
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(9)\n"
        "print('child', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n",
    )
    done = gradviz("run", "s.py", "--call", "last", "-o", "g.json", cwd=tmp_path, process=True)
    assert done.returncode == 0, done.stderr
    assert "child 9" in done.stdout and (tmp_path / "g.json").exists()


# --- sys.exit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "code"),
    [("sys.exit(5)", 5), ("sys.exit()", 0), ("sys.exit(0)", 0), ("sys.exit('bad input')", 1)],
)
def test_run_exits_with_the_scripts_status_after_writing(
    gradviz: Gradviz, tmp_path: Path, ending: str, code: int
) -> None:
    write(tmp_path, ending + "\n")
    done = gradviz("run", "s.py", "--call", "last", "-o", "g.json", cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert "ExpBackward0" in ops(tmp_path / "g.json")
    assert "Traceback" not in done.stderr
    if ending == "sys.exit('bad input')":
        assert "bad input\n" in done.stderr


def test_tree_doctor_and_diff_exit_with_the_scripts_status(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    write(tmp_path, "sys.exit(5)\n")
    tree = gradviz("tree", "s.py", cwd=tmp_path)
    assert tree.returncode == 5 and "MulBackward0" in tree.stdout
    doctor = gradviz("doctor", "s.py", cwd=tmp_path)
    assert doctor.returncode == 5 and "grad-accumulation" in doctor.stdout
    diff = gradviz("diff", "s.py", "--calls", "1", "2", cwd=tmp_path)
    assert diff.returncode == 5


def test_an_uncaught_exception_stays_exit_3(gradviz: Gradviz, tmp_path: Path) -> None:
    write(tmp_path, "raise ValueError('boom')\n")
    done = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path)
    assert done.returncode == 3 and "ValueError: boom" in done.stderr


# --- the traceback is python's ------------------------------------------------------------------

FAILURES = {
    "backward": "import torch\nx = torch.ones(3, requires_grad=True)\ny = (x * 2).sum()\n"
    "y.backward()\ny.backward()\n",
    "forward-op": "import torch\na = torch.ones(2, 3, requires_grad=True)\n"
    "(a * 1).sum().backward()\nc = a.matmul(torch.ones(2, 3))\n",
    "function-backward": "import torch\n"
    "class Bad(torch.autograd.Function):\n"
    "    @staticmethod\n"
    "    def forward(ctx, x):\n"
    "        return x * 2\n"
    "    @staticmethod\n"
    "    def backward(ctx, g):\n"
    "        raise ValueError('bad backward')\n"
    "x = torch.ones(3, requires_grad=True)\n"
    "Bad.apply(x).sum().backward()\n",
    "python": "import torch\nx = torch.ones(3, requires_grad=True)\n(x * 2).sum().backward()\n"
    "def f():\n    return {}['k']\nf()\n",
}

FRAME = re.compile(r'^  File "([^"]+)", line (\d+), in (.+)$', re.MULTILINE)


def frames(stderr: str) -> list[tuple[str, str, str]]:
    """(file name, line, function) of each frame of a traceback; the folder aside (python
    names the script by its absolute path, gradviz as it was given)."""
    return [(Path(f).name, line, func) for f, line, func in FRAME.findall(stderr)]


@pytest.mark.parametrize("case", list(FAILURES))
def test_the_traceback_has_the_frames_python_prints(
    gradviz: Gradviz, tmp_path: Path, case: str
) -> None:
    (tmp_path / "s.py").write_text(FAILURES[case], encoding="utf-8")
    python = subprocess.run(
        [sys.executable, "s.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert python.returncode == 1 and "Traceback" in python.stderr
    done = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert frames(done.stderr) == frames(python.stderr)
    assert done.stderr.rstrip().splitlines()[-1] == python.stderr.rstrip().splitlines()[-1]
