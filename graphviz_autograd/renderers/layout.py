"""The Graphviz `dot` program: finding it, and laying out DOT text with it (SVG/PNG/PDF)
within a deadline, never leaving it running."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final, Literal

from ..errors import GradvizError, GraphvizNotFoundError, LayoutTimeoutError

__all__ = ["IMAGE_FORMATS", "INSTALL_HINT", "ImageFormat", "find_dot", "run_dot"]

ImageFormat = Literal["svg", "png", "pdf"]
IMAGE_FORMATS: Final[tuple[ImageFormat, ...]] = ("svg", "png", "pdf")

INSTALL_HINT: Final = (
    "Graphviz `dot` was not found on PATH: install it (Debian/Ubuntu: apt-get install graphviz; "
    "macOS: brew install graphviz; conda: conda install graphviz), or write DOT or JSON instead"
)

_DIE_WITH_PARENT: Final = str(Path(__file__).with_name("_die_with_parent.py"))
"""The program that runs `dot` on Linux so that `dot` dies with this process."""


def find_dot() -> str | None:
    """Path of the Graphviz `dot` program, or None when it is not installed."""
    return shutil.which("dot")


def _dot_command(exe: str, fmt: ImageFormat) -> list[str]:
    """The command that runs `dot`: on Linux through `_die_with_parent`, so that `dot` never
    outlives gradviz; elsewhere `dot` itself (Ctrl-C and timeouts still stop it)."""
    command = [exe, f"-T{fmt}"]
    if sys.platform != "linux" or not sys.executable:
        return command
    return [sys.executable, "-I", "-S", _DIE_WITH_PARENT, str(os.getpid()), *command]


def run_dot(source: str, fmt: ImageFormat, *, timeout: float | None = None) -> bytes:
    """Lay out DOT ``source`` with Graphviz `dot` and return the ``fmt`` output.

    `dot` is killed when ``timeout`` passes, on any exception (Ctrl-C, SIGTERM turned into one),
    and on Linux when this process dies, even by SIGKILL.

    Raises:
        GraphvizNotFoundError: `dot` is not installed.
        LayoutTimeoutError: layout took longer than ``timeout`` seconds (the process is killed).
        GradvizError: `dot` failed.
    """
    exe = find_dot()
    if exe is None:
        raise GraphvizNotFoundError(INSTALL_HINT)
    with subprocess.Popen(
        _dot_command(exe, fmt),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        try:
            out, errors = proc.communicate(source.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LayoutTimeoutError(
                f"Graphviz layout took longer than {timeout:g} s and was stopped"
            ) from None
        finally:
            if proc.returncode is None:  # timeout, Ctrl-C or another error: stop `dot` now
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        message = errors.decode(errors="replace").strip().splitlines()
        raise GradvizError(f"Graphviz dot failed: {message[-1] if message else proc.returncode}")
    return out
