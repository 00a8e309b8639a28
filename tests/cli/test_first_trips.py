"""First steps that tripped: tree options, named inputs, gradients from autograd.grad, and the
rough edges a new user meets (binary scripts, far paths, clashing -o/-f, Ctrl-C, `| head`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import Gradviz

SAMPLES = Path(__file__).parents[2] / "samples"
GRADVIZ = Path(sys.executable).parent / "gradviz"  # signals and pipes need a child process

AUTOGRAD_GRAD = """\
import torch
x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x ** 3).sum()
(g,) = torch.autograd.grad(y, [x])
print("x.grad =", x.grad)
"""


# -- (a) options that apply to a tree ---------------------------------------------------------


def test_tree_takes_no_edge_grads_and_show_order(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("tree", SAMPLES / "neurons.py", "--no-edge-grads", "--show-order", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "⟵" not in done.stdout
    assert "■ #1 L = RsubBackward1" in done.stdout
    assert "■ #11 a  () float32" in done.stdout


def test_run_as_a_tree_honours_no_edge_grads(gradviz: Gradviz, tmp_path: Path) -> None:
    shown = gradviz("run", SAMPLES / "neurons.py", "-f", "tree", cwd=tmp_path)
    assert "⟵" in shown.stdout
    done = gradviz("run", SAMPLES / "neurons.py", "-f", "tree", "--no-edge-grads", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "⟵" not in done.stdout


def test_a_tree_folded_too_little_says_so_in_nodes(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("tree", SAMPLES / "mlp.py", "--max-nodes", "5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lay out" not in done.stdout  # a tree is not laid out
    assert "more than the 5 asked for: no more repeated structure to fold" in done.stdout


# -- (b) inputs named by their variables ------------------------------------------------------


def test_show_inputs_names_the_input_with_shape_and_dtype(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz(
        "run", SAMPLES / "no_grad_input.py", "--show-inputs", "-o", "-", "-f", "json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    (x,) = [n for n in json.loads(done.stdout)["nodes"] if n["kind"] == "input"]
    assert (x["name"], x["shape"], x["dtype"], x["requires_grad"]) == ("x", [3], "float32", False)
    tree = gradviz("tree", SAMPLES / "no_grad_input.py", "--show-inputs", cwd=tmp_path)
    assert "■ x  (3,) float32" in tree.stdout
    dot = gradviz("run", SAMPLES / "no_grad_input.py", "--show-inputs", "-o", "-", cwd=tmp_path)
    assert 'label="x\\n(3,) float32"' in dot.stdout


# -- (c) a gradient torch.autograd.grad returned ----------------------------------------------


def test_a_gradient_from_autograd_grad_says_so(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(AUTOGRAD_GRAD)
    done = gradviz("run", "s.py", "-o", "-", "-f", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (x,) = [n for n in json.loads(done.stdout)["nodes"] if n["kind"] == "leaf"]
    assert x["grad_returned"] is True
    assert x["grad"]["values"] == [3.0, 12.0, 27.0]
    dot = gradviz("run", "s.py", "-o", "-", cwd=tmp_path).stdout
    assert "autograd.grad ‖·‖=29.7 [3, 27]" in dot
    assert "grad: returned by torch.autograd.grad, not stored in .grad" in dot
    tree = gradviz("tree", "s.py", cwd=tmp_path).stdout
    assert "■ x  (3,) float32  autograd.grad ‖·‖=29.7" in tree


# -- (d) rough edges --------------------------------------------------------------------------


def test_a_binary_file_is_not_a_python_script(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "x.py").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    done = gradviz("run", "x.py", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "error: x.py is not a Python script: it is a binary file"


def test_doctor_prints_a_script_outside_the_folder_by_its_full_path(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    far = tmp_path / "elsewhere" / "train.py"
    far.parent.mkdir()
    far.write_text((SAMPLES / "pitfalls" / "unused_param.py").read_text())
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    done = gradviz("doctor", far, cwd=here)
    assert done.returncode == 4, done.stderr
    assert f"  at {far}:" in done.stdout
    assert "../" not in done.stdout


def test_an_extension_and_a_format_that_disagree_are_refused(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    done = gradviz("run", SAMPLES / "neurons.py", "-o", "x.svg", "-f", "dot", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot write dot into 'x.svg': its extension says svg; name it x.dot" in done.stderr
    assert not (tmp_path / "x.svg").exists()


def test_rankdir_takes_lower_case(gradviz: Gradviz, tmp_path: Path) -> None:
    done = gradviz("run", SAMPLES / "neurons.py", "--rankdir", "lr", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "rankdir=LR" in done.stdout


def test_ctrl_c_before_any_backward_says_so_and_no_more(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(
        "import time\nimport torch\nx = torch.ones(2, requires_grad=True)\n"
        "print('ready', flush=True)\ntime.sleep(120)\n"
    )
    with subprocess.Popen(
        [str(GRADVIZ), "run", "s.py"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
        said = proc.stderr.read().decode()
    assert said == "interrupted: before the script made a backward call; nothing written\n"
    assert not (tmp_path / "s.svg").exists()


def test_doctor_into_a_reader_that_leaves_keeps_its_exit_status(tmp_path: Path) -> None:
    # The script prints after the reader has gone: its output goes nowhere; the finding (an
    # unused parameter) still sets the exit status.
    (tmp_path / "s.py").write_text(
        (SAMPLES / "pitfalls" / "unused_param.py").read_text()
        + "\nprint('first', flush=True)\nimport time\ntime.sleep(1)\n"
        "for i in range(100_000):\n    print(i)\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(
        [str(GRADVIZ), "doctor", "s.py"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"first\n"
        proc.stdout.close()
        assert proc.wait(timeout=120) == 4
        assert proc.stderr.read() == b""
