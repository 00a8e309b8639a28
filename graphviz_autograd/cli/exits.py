"""The exit codes of `gradviz` (listed in `EXAMPLES` and in each command's help)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_SCRIPT_FAILED",
    "EXIT_STRUCTURE_DIFFERS",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "script_exit_code",
]

EXIT_ERROR: Final = 1
"""A gradviz error: missing script, syntax error, nothing to draw, unwritable output, no
Graphviz, layout timeout."""
EXIT_USAGE: Final = 2
"""Bad usage (Typer's own usage errors exit with it too)."""
EXIT_SCRIPT_FAILED: Final = 3
"""The script raised (graphs captured before the error are still written)."""
EXIT_FINDINGS: Final = 4
"""`doctor` found a warning or an error."""
EXIT_STRUCTURE_DIFFERS: Final = 4
"""`diff`: the two graphs differ in structure."""
EXIT_INTERRUPTED: Final = 130
"""Interrupted with Ctrl-C."""
EXIT_TERMINATED: Final = 143
"""SIGTERM during layout: 128 + SIGTERM, as a shell reports it."""


def script_exit_code(error: BaseException) -> int:
    """The exit code for a script that ended with ``error``: Ctrl-C, or a failure."""
    return EXIT_INTERRUPTED if isinstance(error, KeyboardInterrupt) else EXIT_SCRIPT_FAILED
