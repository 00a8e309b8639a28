"""What a new user meets first: hints in errors, quiet pipes, a REPL that says how to save."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Gradviz

GRADVIZ = Path(sys.executable).parent / "gradviz"  # the terminal test runs it in a child
SAMPLES = Path(__file__).parents[2] / "samples"
ROOT = Path(__file__).parents[2]


def test_call_0_names_the_option(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("run", SAMPLES / "neurons.py", "--call", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert "Invalid value for '--call': '0'" in done.stderr


def test_a_script_option_before_double_dash_gets_a_hint(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("run", SAMPLES / "neurons.py", "--epochs", "3", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "No such option: --epochs" in line
    assert "put it after --: gradviz run SCRIPT -- --epochs" in line


def test_help_says_dash_writes_dot(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("run", "--help", cwd=tmp_path)
    assert "DOT, unless --format says otherwise" in " ".join(done.stdout.split()).replace("│ ", "")


LONG_PRINT = """\
import torch
w = torch.ones(3, requires_grad=True)
(w * 2).sum().backward()
for k in range(20_000):
    print(f"line {k} of what the script prints after backward")
"""


def test_tree_into_a_reader_that_leaves_early_says_nothing(tmp_path: Path) -> None:
    # The script prints far more than a pipe holds (64 KiB) after the reader has gone, so some
    # write meets the closed pipe whatever the timing: neither its traceback nor gradviz's.
    (tmp_path / "s.py").write_text(LONG_PRINT, encoding="utf-8")
    with subprocess.Popen(
        [str(GRADVIZ), "tree", "s.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        assert proc.wait(timeout=120) == 1
        assert proc.stderr.read() == b""


def test_readme_examples_outputs_are_ignored_by_git(tmp_path: Path) -> None:
    names = ["neurons.svg", "flow.html", "g.json", "chain.dot", "step-1.svg", "graph.png"]
    done = subprocess.run(
        ["git", "check-ignore", *names], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == names
