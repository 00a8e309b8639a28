"""Output files respect what is there: a regular file is replaced atomically, a symlink is
followed (the link stays a link), a device or FIFO is written in place, and every error names
the path the caller gave, never a temporary file; through `write_atomic`, `render` and the
command line."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd import render
from graphviz_autograd.files import write_atomic

SCRIPT = """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
(w * w).sum().backward()
(w * 3).sum().backward()
print("the script's own line")
"""


def device(folder: Path, name: str, minor: int) -> Path:
    """A character device node in ``folder`` with /dev/null's (1, 3) or /dev/full's (1, 7)
    numbers; skips the test where mknod is not permitted (not root, a container without it)."""
    path = folder / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def is_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def only_files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- write_atomic --------------------------------------------------------------------------------


def test_a_regular_file_is_replaced_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "g.dot"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert only_files(tmp_path) == ["g.dot"]  # no temporary file left


def test_a_symlink_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "g.svg"
    real.write_text("old")
    link = tmp_path / "link.svg"
    link.symlink_to(Path("real") / "g.svg")
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(Path("real") / "g.svg")
    assert real.read_text() == "new"
    assert only_files(tmp_path / "real") == ["g.svg"]
    assert only_files(tmp_path) == ["link.svg", "real"]


def test_a_dangling_symlink_writes_the_file_it_names(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("named.json")
    write_atomic(link, "{}")
    assert link.is_symlink() and (tmp_path / "named.json").read_text() == "{}"


def test_a_null_device_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    null = device(tmp_path, "null", 3)
    write_atomic(null, "digraph {}\n" * 500)
    assert is_device(null) and only_files(tmp_path) == ["null"]


def test_a_full_device_is_an_error_naming_the_path_given(tmp_path: Path) -> None:
    full = device(tmp_path, "full", 7)
    with pytest.raises(OSError, match="No space left on device") as caught:
        write_atomic(full, "x" * 5000)
    assert caught.value.filename == str(full)
    assert is_device(full) and only_files(tmp_path) == ["full"]


def test_a_fifo_is_written_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert got == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_missing_folder_is_an_error_naming_the_path_given(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        write_atomic(tmp_path / "nofolder" / "x.svg", "x")
    assert caught.value.filename == str(tmp_path / "nofolder" / "x.svg")
    assert ".tmp" not in str(caught.value)


def test_render_to_a_missing_folder_names_the_path_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(OSError) as caught:
        render((w * 2).sum(), "nofolder/x.json")
    assert "nofolder/x.json" in str(caught.value) and ".tmp" not in str(caught.value)


# --- the command line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    [
        "dot",
        "json",
        "html",
        "mermaid",
        pytest.param("svg", marks=pytest.mark.dot),
        pytest.param("png", marks=pytest.mark.dot),
    ],
)
def test_output_to_a_null_device_discards_in_every_format(
    gradviz: Gradviz, tmp_path: Path, fmt: str
) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    null = device(tmp_path, "null", 3)
    for call in ("first", "all"):
        done = gradviz("run", "s.py", "-o", "null", "-f", fmt, "--call", call, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert is_device(null) and only_files(tmp_path) == ["null", "s.py"]


def test_output_to_a_full_device_is_one_line_and_exit_1(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    full = device(tmp_path, "full", 7)
    done = gradviz("run", "s.py", "-o", "full", "-f", "dot", cwd=tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == "error: cannot write full: No space left on device"
    assert is_device(full) and only_files(tmp_path) == ["full", "s.py"]


def test_the_doctor_report_to_a_null_device(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    null = device(tmp_path, "null", 3)
    done = gradviz("doctor", "s.py", "-o", "null", cwd=tmp_path)
    assert done.returncode in (0, 4), done.stderr
    assert is_device(null) and only_files(tmp_path) == ["null", "s.py"]


def test_output_through_a_symlink_writes_its_target(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    (tmp_path / "g.json").write_text("old")
    (tmp_path / "link.json").symlink_to("g.json")
    done = gradviz("run", "s.py", "-o", "link.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "g.json").read_text())["format"] == "gradviz-graph"


def stdout_link(folder: Path, kind: str) -> str:
    """A path in ``folder`` that leads to this process's stdout as ``/dev/stdout`` does
    (``/dev/stdout`` is a link to ``/proc/self/fd/1``, ``/dev/fd`` one to ``/proc/self/fd``):
    code that replaces the path it is given clobbers only the link in ``folder`` here, not the
    machine's ``/dev/stdout``."""
    if kind == "stdout":
        (folder / "stdout").symlink_to("/proc/self/fd/1")
        return "stdout"
    (folder / "fd").symlink_to("/proc/self/fd")
    return "fd/1"


@pytest.mark.parametrize("kind", ["stdout", "fd"])
def test_output_to_stdout_by_its_path_prints_each_document(
    gradviz: Gradviz, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    out = stdout_link(tmp_path, kind)
    done = gradviz(
        "run", "s.py", "-o", out, "-f", "mermaid", "--call", "all", cwd=tmp_path, process=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("flowchart TB") == 2 and "the script's own line" in done.stdout
    assert (tmp_path / kind).is_symlink() and only_files(tmp_path) == sorted([kind, "s.py"])


def test_output_to_stdout_sent_to_a_file_keeps_what_was_printed(tmp_path: Path) -> None:
    """``gradviz run s.py -o /dev/stdout > out``: the document goes after the script's print,
    at stdout's own offset, not over it."""
    import subprocess

    from conftest import GRADVIZ_BIN

    (tmp_path / "s.py").write_text(SCRIPT)
    link = stdout_link(tmp_path, "stdout")
    with open(tmp_path / "out", "wb") as out:
        subprocess.run(
            [str(GRADVIZ_BIN), "run", "s.py", "-o", link, "-f", "json", "--call", "last"],
            cwd=tmp_path, stdout=out, timeout=300, check=True,
        )  # fmt: skip
    printed, document = (tmp_path / "out").read_text().split("\n", 1)
    assert printed == "the script's own line"
    assert json.loads(document)["format"] == "gradviz-graph"
    assert (tmp_path / "stdout").is_symlink()


def test_output_to_a_missing_folder_names_it(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    done = gradviz("run", "s.py", "-o", "nofolder/x.svg", cwd=tmp_path)
    assert done.returncode == 1
    expected = "error: cannot write nofolder/x.svg: folder nofolder does not exist"
    assert done.stderr.strip() == expected
