"""Run the `gradviz` command (or any command) the way a user would, and measure it."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GNU_TIME = "/usr/bin/time"


def gradviz_exe() -> str:
    """The `gradviz` script next to this Python (the venv's), else the one on PATH."""
    local = Path(sys.executable).parent / "gradviz"
    if local.exists():
        return str(local)
    found = shutil.which("gradviz")
    if found is None:
        sys.exit("gradviz is not installed: pip install -e . in the venv first")
    return found


@dataclass
class Run:
    """How one command ended."""

    wall_s: float
    exit: str
    """``0``, ``1``, ``signal SIGSEGV``, ``timeout (120 s)``..."""
    peak_rss_mb: float | None
    stderr_tail: str
    left_running: list[str] = field(default_factory=list)
    """Names of the command's processes (same session) still alive once it ended: killed."""

    @property
    def ok(self) -> bool:
        return self.exit == "0"


def stack_limit() -> str:
    """The soft RLIMIT_STACK the commands inherit, for the report."""
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    return "unlimited" if soft == resource.RLIM_INFINITY else f"{soft / 2**20:g} MiB"


def run(cmd: list[str], *, timeout: float, cwd: Path = HERE) -> Run:
    """Run ``cmd`` (in its own process group) and measure wall time, exit and peak RSS.

    Peak RSS comes from GNU time (``%M``) when installed, else from RUSAGE_CHILDREN (the largest
    child waited for so far, so call this from a process that ran nothing bigger before).
    On timeout the whole process group is killed, so no `dot` is left behind.
    """
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if use_time else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(
            full,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            wall = time.perf_counter() - start
            left = _kill_session(proc.pid)
            return Run(wall, f"timeout ({timeout:g} s)", None, _tail(err), left)
        wall = time.perf_counter() - start
        left = _kill_session(proc.pid)
        code = proc.returncode
        rss: float | None = None
        if use_time:
            lines = [line.strip() for line in rss_file.read().splitlines() if line.strip()]
            for line in lines:
                if line.startswith("Command terminated by signal"):
                    code = -int(line.split()[-1])
            if lines and lines[-1].isdigit():
                rss = int(lines[-1]) / 1024
        else:
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if code < 0:
        exit_text = f"signal {signal.Signals(-code).name}"
    else:
        exit_text = str(code)
    return Run(wall, exit_text, rss, _tail(err), left)


def _kill_session(sid: int) -> list[str]:
    """Kill, by pid, every process still alive in session ``sid`` (a command started with
    ``start_new_session``, and whatever it started: a `dot` it left behind); their names."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        if int(fields.split()[3]) == sid and fields[0] != "Z":
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)
                left.append(name)
    return left


def _tail(text: str | None, lines: int = 2) -> str:
    kept = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " / ".join(kept[-lines:])


def fmt_s(value: float) -> str:
    return f"{value:.2f} s"


def fmt_mb(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MiB"
