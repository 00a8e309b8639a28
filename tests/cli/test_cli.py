"""The `gradviz` command on tiny scripts written into tmp_path.

Most runs are in-process (the `gradviz` fixture); signals, terminals, pipes and the crash on
freeing deep graphs need a child process, and say so with `process=True` or their own Popen.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import Gradviz, Ran

from graphviz_autograd.renderers.style import LEGEND

BIN = Path(sys.executable).parent
GRADVIZ = BIN / "gradviz"

# Three backward calls, each with ops of its own, so a file tells which call it drew.
THREE_CALLS = """\
import torch
x = torch.ones(3, requires_grad=True)
(x * 2).sum().backward()
(x + 1).exp().sum().backward()
(x - 1).sin().sum().backward()
"""
CALL_OPS = {1: "MulBackward0", 2: "ExpBackward0", 3: "SinBackward0"}

NO_BACKWARD = """\
import torch
w = torch.ones(2, requires_grad=True)
loss = (w * 3).sum()
plain = torch.zeros(2)
count = 7
"""

RAISES_AFTER_TWO_CALLS = """\
import torch
x = torch.ones(3, requires_grad=True)
(x * 2).sum().backward()
(x + 1).exp().sum().backward()
raise ValueError("boom from the script")
"""


def script(folder: Path, source: str, name: str = "s.py") -> Path:
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


def assert_error(result: Ran, code: int, *fragments: str) -> str:
    """Exit ``code``, stderr is exactly one `error:` line holding every fragment; returns it."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result: Ran, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one clear line
    assert lines[0].startswith("error: ") and "--help)" in lines[0]
    for fragment in fragments:
        assert fragment in result.stderr


def assert_drew_call(path: Path, number: int) -> None:
    text = path.read_text(encoding="utf-8")
    assert CALL_OPS[number] in text
    for other, op in CALL_OPS.items():
        if other != number:
            assert op not in text, f"{path.name} should be call {number} only"


# --- choosing the call ----------------------------------------------------------------------


def test_run_writes_dot_of_the_first_call_by_default(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    assert "SumBackward0" in text
    assert_drew_call(tmp_path / "g.dot", 1)
    assert "wrote g.dot" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "s.py"]  # no temp file left behind


def test_call_last(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", "--call", "last", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_drew_call(tmp_path / "g.dot", 3)


def test_call_number(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", "--call", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_drew_call(tmp_path / "g.dot", 2)


@pytest.mark.dot
def test_call_all_writes_one_numbered_svg_per_call(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "--call", "all", "-o", "g.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("g*")) == ["g-1.svg", "g-2.svg", "g-3.svg"]
    for number in (1, 2, 3):
        path = tmp_path / f"g-{number}.svg"
        assert "<svg" in path.read_text(encoding="utf-8")
        assert_drew_call(path, number)


def test_call_all_to_stdout_writes_each_document_in_turn(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "--call", "all", "-o", "-", "-f", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    decoder, text, documents = json.JSONDecoder(), result.stdout, []
    position = 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    ops = [{node["op"] for node in document["nodes"]} for document in documents]
    assert [CALL_OPS[n] in found for n, found in enumerate(ops, start=1)] == [True] * 3


def test_several_outputs_come_from_one_run_of_the_script(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, 'print("the script ran")\n' + THREE_CALLS)
    result = gradviz("run", "s.py", "--call", "2", "-o", "g.dot", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("the script ran") == 1
    assert "wrote g.dot" in result.stderr and "wrote g.json" in result.stderr
    assert_drew_call(tmp_path / "g.dot", 2)
    assert_drew_call(tmp_path / "g.json", 2)
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    dot = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert nodes and all(f"\n  {node['id']} [" in dot for node in nodes)


def test_outputs_that_cannot_all_be_written_are_refused_before_the_script_runs(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, 'print("the script ran")\n' + THREE_CALLS)
    twice = gradviz("run", "s.py", "-o", "g.dot", "-o", "g.dot", cwd=tmp_path)
    assert_error(twice, 2, "-o g.dot is given twice")
    page = gradviz("run", "s.py", "--call", "all", "-o", "g.dot", "-o", "run.html", cwd=tmp_path)
    assert_error(page, 2, "one page", "in a run of their own")
    tree = gradviz("run", "s.py", "-f", "tree", "-o", "g.svg", cwd=tmp_path)
    assert_error(tree, 2, "--format tree prints the tree here, to no file: drop -o g.svg")
    assert "the script ran" not in twice.stdout + page.stdout + tree.stdout
    assert sorted(os.listdir(tmp_path)) == ["s.py"]


def test_call_number_beyond_the_calls_made_is_an_error(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", "--call", "5", cwd=tmp_path)
    assert_error(result, 1, "--call 5", "only 3 backward call")
    assert not (tmp_path / "g.dot").exists()


# --- where the output goes ------------------------------------------------------------------


@pytest.mark.dot
def test_default_output_is_the_script_stem_as_svg_in_the_cwd(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    script(tmp_path / "src", THREE_CALLS, name="train.py")
    result = gradviz("run", "src/train.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "<svg" in (tmp_path / "train.svg").read_text(encoding="utf-8")
    assert not (tmp_path / "src" / "train.svg").exists()


def stderr_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run the installed `gradviz` with its stderr on a pseudo-terminal, as in a shell: the exit
    code and what it wrote there, without escape sequences."""
    import pty

    main, side = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    with subprocess.Popen(
        [str(GRADVIZ), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=side,
    ) as proc:
        os.close(side)
        chunks = []
        with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
            while chunk := os.read(main, 65536):
                chunks.append(chunk)
        os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    return proc.returncode, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.mark.dot
def test_a_terminal_sees_a_spinner_while_the_file_is_made(tmp_path: Path) -> None:
    # Layout can take a minute, and writing the DOT of a million nodes seconds: a spinner with
    # the elapsed time says what is going on; it is cleared once the file is written.
    script(tmp_path, THREE_CALLS)
    for output, doing in (
        ("g.svg", "laying out 3 nodes with Graphviz dot"),
        ("g.json", "writing JSON: 3 nodes"),
    ):
        code, printed = stderr_on_a_terminal("run", "s.py", "-o", output, cwd=tmp_path)
        assert code == 0, printed
        assert doing in printed
        assert f"wrote {output} (3 nodes, 2 edges" in printed
        assert (tmp_path / output).stat().st_size > 0


MANY_BRANCHES = """\
import torch
xs = [torch.ones(1, requires_grad=True) for _ in range(2000)]
torch.stack([x * 2.0 for x in xs]).sum().backward()
"""


@pytest.mark.dot
def test_pictures_fold_to_the_node_budget_and_dot_and_json_only_when_asked(
    gradviz: Gradviz,
    tmp_path: Path,
) -> None:
    script(tmp_path, MANY_BRANCHES)  # 4,002 nodes: past the default budget of 1,500
    result = gradviz("run", "s.py", "-o", "g.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wrote g.svg (4,002 nodes folded to 4 nodes, 3 edges," in result.stderr
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "MulBackward0 ×2000" in svg
    assert "folded 3,998 nodes" in svg and "&#45;&#45;max&#45;nodes 0" in svg  # how to unfold
    result = gradviz("run", "s.py", "-o", "full.json", cwd=tmp_path)
    assert "wrote full.json (4,002 nodes, 4,001 edges," in result.stderr
    full = json.loads((tmp_path / "full.json").read_text(encoding="utf-8"))
    assert len(full["nodes"]) == 4002 and full["notes"] == []
    result = gradviz("run", "s.py", "-o", "f.json", "--max-nodes", "1500", cwd=tmp_path)
    assert "wrote f.json (4,002 nodes folded to 4 nodes, 3 edges," in result.stderr
    folded = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert sorted(node.get("count", 1) for node in folded["nodes"]) == [1, 1, 2000, 2000]
    assert "--max-nodes 0" in folded["notes"][0]


def test_the_terminal_tree_folds_to_the_node_budget_as_a_picture_does(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, MANY_BRANCHES)
    result = gradviz("run", "s.py", "-f", "tree", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MulBackward0 ×2000" in result.stdout and "folded 3,998 nodes" in result.stdout
    result = gradviz("run", "s.py", "-f", "tree", "--max-nodes", "0", cwd=tmp_path)
    assert result.stdout.count("MulBackward0") == 2000 and "folded" not in result.stdout


def test_json_to_stdout_is_alone_there_and_script_prints_go_to_stderr(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, 'print("hello from the script")\n' + THREE_CALLS)
    result = gradviz("run", "s.py", "--format", "json", "-o", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format"] == "gradviz-graph" and data["version"] == 1
    assert "MulBackward0" in {node["op"] for node in data["nodes"]}
    assert "hello from the script" in result.stderr
    assert os.listdir(tmp_path) == ["s.py"]


def test_binary_format_to_stdout_is_refused(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "--format", "png", "-o", "-", cwd=tmp_path)
    assert_error(result, 1, "png", "-o")
    assert result.stdout == ""


# --- --var ----------------------------------------------------------------------------------


def test_var_renders_a_global_when_backward_never_ran(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, NO_BACKWARD)
    result = gradviz("run", "s.py", "--var", "loss", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    assert {"SumBackward0", "MulBackward0"} <= {n["op"] for n in nodes}
    assert all(n["grad"] is None for n in nodes)


def test_var_renders_a_global_with_its_gradients_after_backward(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, NO_BACKWARD + "loss.backward()\n")
    result = gradviz("run", "s.py", "--var", "loss", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    (leaf,) = [n for n in nodes if n["is_leaf"]]
    assert leaf["grad"]["values"] == [3.0, 3.0]


def test_var_missing_lists_the_tensors_with_a_graph(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, NO_BACKWARD)
    result = gradviz("run", "s.py", "--var", "missing", "-o", "g.dot", cwd=tmp_path)
    line = assert_error(result, 1, "'missing'", "w, loss")
    assert "plain" not in line and "count" not in line
    assert not (tmp_path / "g.dot").exists()


def test_no_backward_and_no_var_lists_the_globals_with_a_graph(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, NO_BACKWARD)
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    line = assert_error(result, 1, "no backward call", "--var", "w, loss")
    assert "plain" not in line
    assert not (tmp_path / "g.dot").exists()


# --- how the script runs --------------------------------------------------------------------


def test_script_gets_the_arguments_after_double_dash(gradviz: Gradviz, tmp_path: Path) -> None:
    script(
        tmp_path,
        "import json, sys\n"
        "from pathlib import Path\n"
        "Path(__file__).with_name('argv.json').write_text(json.dumps([sys.argv, __name__]))\n"
        + THREE_CALLS,
    )
    result = gradviz("run", "s.py", "-o", "g.dot", "--", "--flag", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    argv, name = json.loads((tmp_path / "argv.json").read_text(encoding="utf-8"))
    assert argv == ["s.py", "--flag", "x"]
    assert name == "__main__"


def test_backward_with_gradient_on_a_non_scalar_output_is_recorded(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(
        tmp_path,
        "import torch\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "y = x.exp() * 2\n"
        "y.backward(gradient=torch.ones(3))\n",
    )
    result = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    assert {"MulBackward0", "ExpBackward0"} <= {n["op"] for n in nodes}
    (leaf,) = [n for n in nodes if n["is_leaf"]]
    assert leaf["grad"]["shape"] == [3]


def test_torch_autograd_backward_is_recorded(gradviz: Gradviz, tmp_path: Path) -> None:
    script(
        tmp_path,
        "import torch\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "y = (x * x).sum()\n"
        "torch.autograd.backward(y)\n",
    )
    result = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    assert {"SumBackward0", "MulBackward0"} <= {n["op"] for n in nodes}
    (leaf,) = [n for n in nodes if n["is_leaf"]]
    assert leaf["grad"]["values"] == [2.0, 2.0, 2.0]


# --- errors: one line, a documented exit code, no traceback of ours --------------------------


def test_missing_script(gradviz: Gradviz, tmp_path: Path) -> None:
    result = gradviz("run", "nope.py", "-o", "g.dot", cwd=tmp_path)
    assert_error(result, 1, "no such script", "nope.py")


def test_syntax_error_in_the_script_names_file_and_line(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, "x = 1\ndef f(:\n    pass\n")
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert_error(result, 1, "s.py:2", "syntax error")


def test_unknown_option_is_a_usage_error(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "--bogus", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert_usage_error(result, "--bogus")
    assert not (tmp_path / "g.dot").exists()


def test_unknown_option_after_the_script_is_a_usage_error_too(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    # Script options go after `--`; a typo such as --cal must not silently reach the script.
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", "--cal", "last", cwd=tmp_path)
    assert_usage_error(result, "--cal")
    assert not (tmp_path / "g.dot").exists()


def test_bad_call_value_is_a_usage_error(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", "--call", "0", cwd=tmp_path)
    assert_usage_error(result, "'0'", "first, last, all, a call number from 1", "(1.1)")
    result = gradviz("run", "s.py", "-o", "g.dot", "--call", "1.0", cwd=tmp_path)
    assert_usage_error(result, "'1.0'")


def test_output_in_a_missing_folder(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", "missing/g.dot", cwd=tmp_path)
    assert_error(result, 1, "cannot write missing/g.dot", "does not exist")


def test_output_in_a_missing_folder_with_call_all(gradviz: Gradviz, tmp_path: Path) -> None:
    # Checked before the script runs: a long training run must not be lost at the end.
    script(tmp_path, "open('ran', 'w').close()\n" + THREE_CALLS)
    result = gradviz("run", "s.py", "--call", "all", "-o", "missing/g.dot", cwd=tmp_path)
    assert_error(result, 1, "missing/g.dot", "does not exist")
    assert not (tmp_path / "ran").exists()


def test_output_that_is_an_existing_folder(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    (tmp_path / "g.dot").mkdir()
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert_error(result, 1, "cannot write g.dot", "folder")
    assert list((tmp_path / "g.dot").iterdir()) == []


def test_without_dot_svg_fails_naming_how_to_install_graphviz(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    assert not (BIN / "dot").exists()
    script(tmp_path, THREE_CALLS)
    env = {**os.environ, "PATH": str(BIN)}
    result = gradviz("run", "s.py", cwd=tmp_path, env=env)  # the default output is s.svg
    assert_error(result, 1, "Graphviz", "install graphviz")
    assert os.listdir(tmp_path) == ["s.py"]


@pytest.mark.parametrize("name", ["g.dot", "g.json"])
def test_without_dot_text_formats_still_work(gradviz: Gradviz, tmp_path: Path, name: str) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("run", "s.py", "-o", name, cwd=tmp_path, env={**os.environ, "PATH": str(BIN)})
    assert result.returncode == 0, result.stderr
    assert "MulBackward0" in (tmp_path / name).read_text(encoding="utf-8")


# --- the script fails or exits ----------------------------------------------------------------


def assert_script_traceback(stderr: str) -> None:
    assert "Traceback (most recent call last):" in stderr
    assert 'File "s.py", line 5, in <module>' in stderr
    assert 'raise ValueError("boom from the script")' in stderr
    assert "ValueError: boom from the script" in stderr
    assert "graphviz_autograd" not in stderr  # no frame of ours
    assert "runner.py" not in stderr and "record.py" not in stderr


def test_script_raises_with_call_all_still_writes_the_calls_made(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, RAISES_AFTER_TWO_CALLS)
    result = gradviz("run", "s.py", "--call", "all", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 3
    assert_script_traceback(result.stderr)
    assert sorted(p.name for p in tmp_path.glob("g*")) == ["g-1.dot", "g-2.dot"]
    assert_drew_call(tmp_path / "g-1.dot", 1)
    assert_drew_call(tmp_path / "g-2.dot", 2)


def test_script_raises_with_call_first_still_writes_it(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, RAISES_AFTER_TWO_CALLS)
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 3
    assert_script_traceback(result.stderr)
    assert_drew_call(tmp_path / "g.dot", 1)


def test_script_sys_exit_0_is_success(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS + "import sys\nsys.exit(0)\nraise AssertionError\n")
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_drew_call(tmp_path / "g.dot", 1)


def test_script_sys_exit_nonzero_exits_with_its_status_without_a_traceback(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, THREE_CALLS + "import sys\nsys.exit(4)\n")
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert "4" in result.stderr
    assert_drew_call(tmp_path / "g.dot", 1)


def test_failed_run_leaves_an_existing_output_untouched(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, NO_BACKWARD)
    (tmp_path / "g.dot").write_text("old graph\n", encoding="utf-8")
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path)
    assert_error(result, 1, "no backward call")
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == "old graph\n"
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "s.py"]


def take_ctrl_c() -> None:
    """In a child, before exec: take SIGINT as from a terminal, even when these tests run as a
    background job (which starts with SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_writes_what_was_captured_and_exits_130(tmp_path: Path) -> None:
    script(
        tmp_path,
        "import time\n"
        "from pathlib import Path\n"
        "import torch\n"
        "x = torch.ones(3, requires_grad=True)\n"
        "(x * 2).sum().backward()\n"
        "Path(__file__).with_name('marker').write_text('backward done')\n"
        "time.sleep(30)\n",
    )
    proc = subprocess.Popen(
        [str(GRADVIZ), "run", "s.py", "-o", "g.dot"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=take_ctrl_c,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "marker").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the script never reached its backward call"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    text = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert text.startswith("digraph") and text.endswith("}\n")
    assert "MulBackward0" in text


# Quick to record, slow to lay out: unfolded, `dot` takes over 10 s on this one wide rank.
WIDE = """\
import torch
x = torch.ones(1, requires_grad=True)
torch.stack([x * float(i) for i in range(4000)]).sum().backward()
"""


def proc_stat(pid: int) -> tuple[str, str, int, float, str] | None:
    """(command, state, parent pid, CPU seconds, start time) of process ``pid``; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    head, _, tail = text.rpartition(")")  # the command may hold spaces and parentheses
    fields = tail.split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return head.partition("(")[2], fields[0], int(fields[1]), cpu, fields[19]


def dot_children(parent: int) -> dict[int, tuple[float, str]]:
    """The running `dot` children of ``parent``: pid -> (CPU seconds used, start time)."""
    found = {}
    for entry in os.listdir("/proc"):
        stat = proc_stat(int(entry)) if entry.isdigit() else None
        if stat and stat[0] == "dot" and stat[2] == parent and stat[1] not in "ZX":
            found[int(entry)] = (stat[3], stat[4])
    return found


def still_running(pid: int, start: str) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[4] == start and stat[1] not in "ZX"  # zombies are dead


def laying_out(proc: subprocess.Popen[str]) -> dict[int, tuple[float, str]]:
    """Wait until ``proc`` has a `dot` child laying out, not starting or reading its input (one
    that has used some CPU); returns its `dot` children."""
    dots: dict[int, tuple[float, str]] = {}
    deadline = time.monotonic() + 120
    while not any(cpu >= 0.3 for cpu, _ in dots.values()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "dot never started laying out"
        time.sleep(0.05)
        dots = dot_children(proc.pid)
    return dots


def assert_gone(dots: dict[int, tuple[float, str]]) -> None:
    """Left alone, `dot` would lay out for seconds more; killed, it is gone (or a zombie)."""
    deadline = time.monotonic() + 5
    while any(still_running(pid, start) for pid, (_, start) in dots.items()):
        assert time.monotonic() < deadline, f"dot {sorted(dots)} outlived gradviz"
        time.sleep(0.05)


@pytest.mark.dot
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds `dot` through /proc")
@pytest.mark.parametrize("sent_to", ["gradviz", "group"])
def test_ctrl_c_during_layout_exits_130_leaving_no_file_and_no_dot(
    tmp_path: Path, sent_to: str
) -> None:
    # "gradviz": only gradviz gets SIGINT, so it must stop `dot` itself; "group": the whole
    # process group gets it, as with Ctrl-C in a terminal, so `dot` gets it too.
    script(tmp_path, WIDE)
    proc = subprocess.Popen(
        [str(GRADVIZ), "run", "s.py", "-o", "g.svg", "--max-nodes", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, to signal and to clean up
        preexec_fn=take_ctrl_c,
    )
    try:
        dots = laying_out(proc)
        if sent_to == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr
        assert "Traceback" not in stderr and "wrote" not in stderr
        assert os.listdir(tmp_path) == ["s.py"]  # no g.svg, no temporary file
        assert_gone(dots)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group, dot included
        proc.wait()


@pytest.mark.dot
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds `dot` through /proc")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_dot_dies_with_gradviz_killed_during_layout(tmp_path: Path, sig: str) -> None:
    # SIGTERM: gradviz stops `dot` on its way out (exit 143); SIGKILL: gradviz cannot do
    # anything, Linux kills `dot` (PR_SET_PDEATHSIG).
    script(tmp_path, WIDE)
    proc = subprocess.Popen(
        [str(GRADVIZ), "run", "s.py", "-o", "g.svg", "--max-nodes", "0", "--layout-timeout", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, to clean up
    )
    try:
        dots = laying_out(proc)
        proc.send_signal(getattr(signal, sig))
        _, stderr = proc.communicate(timeout=60)
        if sig == "SIGTERM":
            assert proc.returncode == 143, stderr
            assert "Traceback" not in stderr
        else:
            assert proc.returncode == -signal.SIGKILL
        assert os.listdir(tmp_path) == ["s.py"]  # no g.svg, no temporary file
        assert_gone(dots)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.dot
def test_layout_timeout_stops_dot_and_writes_the_dot_beside(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, WIDE)  # unfolded, `dot` lays this out for over 10 s
    result = gradviz(
        "run", "s.py", "-o", "g.svg", "--max-nodes", "0", "--layout-timeout", "1", cwd=tmp_path
    )
    # --max-nodes 0: nothing may be folded, so there is no retry: one clear line, and the DOT.
    assert_error(result, 1, "longer than 1 s", "its DOT is in g.dot", "--layout-timeout")
    assert sorted(os.listdir(tmp_path)) == ["g.dot", "s.py"]  # no g.svg, no temporary file
    text = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert text.startswith("digraph") and text.count(" -> ") == 8001  # the whole graph


@pytest.mark.dot
def test_a_layout_over_its_time_is_folded_further_and_retried(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(tmp_path, WIDE)  # under --max-nodes 9000 it is not folded: `dot` takes about 5 s
    result = gradviz(  # the first layout gets 1.5 s: never enough, on any machine here
        "run", "s.py", "-o", "g.svg", "--max-nodes", "9000", "--layout-timeout", "3", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("wrote g.svg (4,003 nodes folded to 4 nodes")
    assert "; layout of 4,003 nodes took over " in line
    assert line.endswith(" s: folded to at most 1,000 nodes)")
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "layout of 4,003 nodes took over" in svg and "×4000" in svg


@pytest.mark.dot
def test_a_picture_too_big_for_its_budget_gets_a_module_depth_chosen(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(
        tmp_path,
        "import torch\n"
        "from torch import nn\n"
        "def block(act):\n"
        "    return nn.Sequential(nn.Linear(4, 4), act, nn.Linear(4, 4))\n"
        "net = nn.Sequential(*map(block, (nn.Tanh(), nn.ReLU(), nn.Sigmoid(), nn.GELU())))\n"
        "net(torch.randn(2, 4)).sum().backward()\n",
    )
    result = gradviz("run", "s.py", "-o", "g.svg", "--max-nodes", "16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("wrote g.svg (37 nodes folded to 13 nodes")
    assert line.endswith("; modules deeper than 2 levels as one node (--depth N))")
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "net.3.2" in svg and "(12 collapsed); chosen to lay out in seconds" in svg
    # --depth given: kept as it is, nothing chosen.
    result = gradviz(
        "run", "s.py", "-o", "g.svg", "--max-nodes", "16", "--depth", "1", cwd=tmp_path
    )
    assert result.returncode == 0 and "(--depth N)" not in result.stderr
    assert "chosen" not in (tmp_path / "g.svg").read_text(encoding="utf-8")


@pytest.mark.slow
def test_deep_chain_of_200000_ops_renders_to_dot(gradviz: Gradviz, tmp_path: Path) -> None:
    # Freeing a graph this deep overflows the C stack inside PyTorch unless the walker raised
    # RLIMIT_STACK; the run must neither crash nor hit Python's recursion limit.
    script(
        tmp_path,
        "import torch\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "y = x\n"
        "for _ in range(200_000):\n"
        "    y = y * 1.0\n"
        "y.sum().backward()\n",
    )
    result = gradviz("run", "s.py", "-o", "g.dot", cwd=tmp_path, timeout=180, process=True)
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "g.dot").open(encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    assert lines > 200_000


# --- version, help, tree --------------------------------------------------------------------


def test_gradviz_version(gradviz: Gradviz, tmp_path: Path) -> None:
    result = gradviz("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"gradviz {version('gradviz')}"


def test_python_dash_m_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphviz_autograd", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"gradviz {version('gradviz')}"


def test_help_shows_examples_and_exit_codes(gradviz: Gradviz, tmp_path: Path) -> None:
    result = gradviz("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for text in ("Examples", "gradviz run train.py", "--call all", "Exit codes", "run", "tree"):
        assert text in result.stdout


def test_run_help_lists_its_options(gradviz: Gradviz, tmp_path: Path) -> None:
    result = gradviz("run", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for option in ("--output", "--format", "--call", "--var", "--show-saved", "--rankdir"):
        assert option in result.stdout


def test_tree_prints_the_ops_and_the_legend(gradviz: Gradviz, tmp_path: Path) -> None:
    script(tmp_path, THREE_CALLS)
    result = gradviz("tree", "s.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SumBackward0" in result.stdout and "MulBackward0" in result.stdout
    assert "ExpBackward0" not in result.stdout  # the first call only
    assert LEGEND["leaf"].meaning in result.stdout and LEGEND["op"].meaning in result.stdout
    assert os.listdir(tmp_path) == ["s.py"]


def test_tree_of_shared_nodes_is_linear_not_exponential(gradviz: Gradviz, tmp_path: Path) -> None:
    script(
        tmp_path,
        "import torch\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "for _ in range(40):\n"
        "    x = x + x\n"
        "x.sum().backward()\n",
    )
    result = gradviz("tree", "s.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 45, result.stdout
    # Every level is there, even the deepest (a narrow console must not cut them off).
    assert sum("AddBackward0" in line for line in lines) == 40
    assert re.search(r"\bn41\b", result.stdout)  # the leaf, 41 levels down


def test_tree_names_tensors_by_the_scripts_variables_and_shows_inputs(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(
        tmp_path,
        "import torch\n"
        "w = torch.tensor([1.0, 2.0], requires_grad=True)\n"
        "x = torch.tensor([3.0, 4.0])\n"
        "z = w * x\n"
        "loss = z.sum()\n"
        "loss.backward()\n",
    )
    plain = gradviz("tree", "s.py", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "loss = SumBackward0" in plain.stdout and "z = MulBackward0" in plain.stdout
    assert re.search(r"■ w  \(2,\) float32  grad ‖·‖=5 \[3, 4\]", plain.stdout), plain.stdout
    assert "input (no grad)" not in plain.stdout
    shown = gradviz("tree", "s.py", "--show-inputs", cwd=tmp_path)
    assert "■ x  (2,) float32  n" in shown.stdout  # named by its variable, as w is


def test_source_lines_are_on_by_default_and_off_with_no_source(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    script(
        tmp_path,
        "import torch\n"
        "w = torch.ones(2, requires_grad=True)\n"
        "y = (w * 3).exp()\n"
        "y.sum().backward()\n",
    )
    on = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path)
    assert on.returncode == 0, on.stderr
    nodes = json.loads((tmp_path / "g.json").read_text())["nodes"]
    exp = next(n for n in nodes if n["op"] == "ExpBackward0")
    assert exp["source"]["line"] == 3 and exp["source"]["code"] == "y = (w * 3).exp()"
    tree = gradviz("tree", "s.py", cwd=tmp_path)
    assert "s.py:3" in tree.stdout
    off = gradviz("run", "s.py", "-o", "h.json", "--no-source", cwd=tmp_path)
    assert off.returncode == 0, off.stderr
    assert all("source" not in n for n in json.loads((tmp_path / "h.json").read_text())["nodes"])


@pytest.mark.parametrize("flag", ["--op-shapes", "--no-op-shapes"])
def test_op_shapes_flag(gradviz: Gradviz, tmp_path: Path, flag: str) -> None:
    script(tmp_path, RAISES_AFTER_TWO_CALLS)
    result = gradviz("run", "s.py", "-o", "g.json", flag, cwd=tmp_path)
    assert result.returncode == 3, result.stderr  # the script's own error, after the capture
    nodes = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"]
    ops = {n["op"]: n["shape"] for n in nodes if n["kind"] == "op"}
    assert ops == {
        "SumBackward0": [] if flag == "--op-shapes" else None,
        "MulBackward0": ([3] if flag == "--op-shapes" else None),
    }
    assert [n["shape"] for n in nodes if n["kind"] == "leaf"] == [[3]]
