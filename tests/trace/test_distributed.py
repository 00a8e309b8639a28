"""gradviz under torchrun: two processes on CPU with gloo, for DDP and FSDP2 (samples/ddp.py,
samples/fsdp.py). Every run is in a session of its own, killed whole (torchrun, its workers,
anything they started) when it ends or takes too long: a distributed job that waits for a
rank that is gone would otherwise wait forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
TIMEOUT = 240  # seconds; a run of two processes takes 20-40 s on a busy machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not __import__("torch").distributed.is_available(), reason="no torch.distributed"
    ),
]


class Ran(NamedTuple):
    codes: list[int]
    out: str
    err: str


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _JOB_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return env


_JOB_VARS = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE"}


def _wait(procs: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    """Each process's output; on timeout, kill every process group and fail."""
    try:
        return [p.communicate(timeout=TIMEOUT) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"a distributed run took over {TIMEOUT} s (a rank waiting for the others?)")
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the whole session: workers included
            except ProcessLookupError:
                pass
            p.wait()


def torchrun(cwd: Path, *args: str) -> Ran:
    """``torchrun --nproc_per_node 2 --no-python python -m graphviz_autograd ARGS`` in ``cwd``."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["--no-python", sys.executable, "-m", "graphviz_autograd", *args]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    ((out, err),) = _wait([proc])
    return Ran([proc.returncode], out, err)


def two_ranks(cwd: Path, port: int, *args: str) -> Ran:
    """Both ranks of a job started by hand, as torchrun would (its variables), so that each
    rank's exit status can be read: ``python -m graphviz_autograd ARGS`` twice."""
    procs = []
    try:
        for rank in (0, 1):
            env = _env() | {
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": "2",
                "LOCAL_WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "graphviz_autograd", *args],
                    cwd=cwd,
                    env=env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )  # fmt: skip
            )
    finally:
        outputs = _wait(procs)
    return Ran([p.returncode for p in procs], *("".join(o[i] for o in outputs) for i in (0, 1)))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def leaves(path: Path) -> dict[str, dict[str, object]]:
    graph = json.loads(path.read_text())
    return {n["name"]: n for n in graph["nodes"] if n["kind"] == "leaf"}


def test_ddp_rank_0_writes_once_with_module_paths(tmp_path: Path) -> None:
    ran = torchrun(tmp_path, "run", str(SAMPLES / "ddp.py"), "-o", "g.json")
    assert ran.codes == [0], ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]
    assert ran.err.count("wrote g.json") == 1
    found = leaves(tmp_path / "g.json")
    assert sorted(found) == [f"model.module.{i}.{p}" for i in (0, 2) for p in ("bias", "weight")]
    weight = found["model.module.0.weight"]
    assert weight["module"] == "model.module.0" and weight["shape"] == [16, 8]
    # DDP's gradients are whole, and the same on every rank: the all-reduced one
    assert weight["grad"]["shape"] == [16, 8] and weight["grad"]["norm"] > 0


def test_fsdp_every_rank_names_its_shards(tmp_path: Path) -> None:
    ran = torchrun(tmp_path, "run", str(SAMPLES / "fsdp.py"), "-o", "g.json", "--ranks", "all")
    assert ran.codes == [0], ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json", "g.rank1.json"]
    for name, rank in (("g.json", 0), ("g.rank1.json", 1)):
        graph = json.loads((tmp_path / name).read_text())
        found = leaves(tmp_path / name)
        assert sorted(found) == [f"model.{i}.{p}" for i in (0, 2) for p in ("bias", "weight")]
        weight = found["model.0.weight"]
        # drawn at the gathered (full) shape, inside its module, with its local shard's gradient
        assert weight["module"] == "model.0" and weight["shape"] == [16, 8]
        assert weight["grad"]["shape"] == [8, 8]
        assert weight["attrs"] == {"gradient": "local shard"}
        assert f"rank {rank} of 2" in graph["notes"][0]
        ops = {n["op"]: n for n in graph["nodes"] if n["kind"] == "op"}
        assert ops["RegisterPostBackwardFunctionBackward"]["name"] == "FSDP2 post-backward"
        assert any(note.startswith("FSDP2 post-backward: ") for note in graph["notes"])


def test_fsdp_doctor_sees_every_parameter_reached(tmp_path: Path) -> None:
    ran = torchrun(tmp_path, "doctor", str(SAMPLES / "fsdp.py"))
    assert ran.codes == [0], ran.err
    assert ran.out.count("gradviz doctor") == 1  # rank 0 reports, once
    assert "no findings" in ran.out


DDP_UNUSED = """\
import gc

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.head = nn.Linear(16, 4)
        self.extra = nn.Linear(16, 4)  # never called

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


dist.init_process_group("gloo")
model = DDP(Net())
try:
    for step in range(2):
        model(torch.randn(5, 8)).sum().backward()
finally:  # release the process group before destroying it, as samples/ddp.py says why
    del model
    gc.collect()
    dist.destroy_process_group()
"""


def test_doctor_names_the_parameters_ddp_numbers(tmp_path: Path) -> None:
    (tmp_path / "unused.py").write_text(DDP_UNUSED)
    ran = two_ranks(tmp_path, free_port(), "doctor", "unused.py", "-o", "report.json")
    assert ran.codes == [4, 4], ran.err  # DDP's error at the second forward, explained
    assert "Parameter indices which did not receive grad for rank 0: 4 5" in ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "unused.py"]
    (finding,) = json.loads((tmp_path / "report.json").read_text())["findings"]
    assert finding["code"] == "ddp-unused-param"
    assert finding["params"] == ["model.module.extra.weight", "model.module.extra.bias"]
    assert "4 5" in finding["message"] and "static_graph" in finding["hint"]


def test_each_rank_exits_with_the_scripts_status(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(DDP_UNUSED.replace("self.extra = nn.Linear(16, 4)  # never called", ""))
    script.write_text(script.read_text() + "raise SystemExit(5)\n")
    ran = two_ranks(tmp_path, free_port(), "run", "fails.py", "-o", "g.json")
    # each rank exits with the script's status, as under python
    assert ran.codes == [5, 5], ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fails.py", "g.json"]
    assert ran.err.count("the script exited with status 5") == 1  # gradviz's: rank 0 only
