"""``--ranks``: in a torchrun job (its variables, here without torch.distributed: gradviz
needs none to know its rank), only the chosen ranks write and print gradviz's lines; the others
run the script and exit as it ends."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import Gradviz

SCRIPT = """\
import torch
w = torch.ones(2, requires_grad=True)
loss = (w * 3).sum()
loss.backward()
print("the script ran")
"""


def job(rank: int) -> dict[str, str]:
    return {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_rank_1_runs_the_script_writes_nothing_and_says_nothing(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    done = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path, env=job(1))
    assert done.returncode == 0, done.stderr
    assert files(tmp_path) == ["s.py"]
    assert done.stdout == "the script ran\n" and "wrote" not in done.stderr
    zero = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path, env=job(0))
    assert files(tmp_path) == ["g.json", "s.py"] and "wrote g.json" in zero.stderr


def test_ranks_all_has_rank_1_write_a_file_of_its_own(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    done = gradviz("run", "s.py", "-o", "g.json", "--ranks", "all", cwd=tmp_path, env=job(1))
    assert done.returncode == 0, done.stderr
    assert files(tmp_path) == ["g.rank1.json", "s.py"]
    assert "wrote g.rank1.json" in done.stderr


def test_errors_and_exit_statuses_are_the_same_on_every_rank(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "s.py").write_text("print('no backward here')\n")
    zero = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path, env=job(0))
    one = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path, env=job(1))
    assert zero.returncode == one.returncode == 1
    assert "the script made no backward call" in zero.stderr and one.stderr == ""
    (tmp_path / "s.py").write_text(SCRIPT + "raise ValueError('late')\n")
    one = gradviz("run", "s.py", "-o", "g.json", cwd=tmp_path, env=job(1))
    assert one.returncode == 3 and "ValueError: late" in one.stderr  # the script's traceback


def test_tree_and_doctor_report_on_rank_0_only(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    for command in ("tree", "doctor"):
        one = gradviz(command, "s.py", cwd=tmp_path, env=job(1))
        assert one.returncode == 0 and one.stdout == "the script ran\n", command
        zero = gradviz(command, "s.py", cwd=tmp_path, env=job(0))
        assert zero.returncode == 0 and len(zero.stdout.splitlines()) > 1, command


def test_a_rank_the_job_lacks_is_a_usage_error(gradviz: Gradviz, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(SCRIPT)
    done = gradviz("run", "s.py", "--ranks", "0,2", cwd=tmp_path, env=job(0))
    assert done.returncode == 2
    assert done.stderr == "error: --ranks 2: the job has ranks 0 to 1\n"
    done = gradviz("run", "s.py", "--ranks", "first", cwd=tmp_path, env=job(0))
    assert done.returncode == 2 and "use all, or rank numbers" in done.stderr
