"""The exit codes of `gradviz` (listed in `EXAMPLES` and in each command's help)."""

from __future__ import annotations

from typing import Final

from ..trace.script import exit_code_of

__all__ = [
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_SCRIPT_FAILED",
    "EXIT_STRUCTURE_DIFFERS",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "SCRIPT_EXITS",
    "script_exit_code",
]

EXIT_ERROR: Final = 1
"""A gradviz error: missing script, syntax error, nothing to draw, unwritable output, no
Graphviz, layout timeout."""
EXIT_USAGE: Final = 2
"""Bad usage (Typer's own usage errors exit with it too)."""
EXIT_SCRIPT_FAILED: Final = 3
"""The script raised (graphs captured before the error are still written). A script that
calls ``sys.exit(N)`` or ``os._exit(N)`` exits N, as under Python, after what was captured is
written (`script_exit_code`)."""
EXIT_FINDINGS: Final = 4
"""`doctor` found a warning or an error (a script's own non-zero exit status wins)."""
EXIT_STRUCTURE_DIFFERS: Final = 4
"""`diff`: the two graphs differ in structure."""
EXIT_INTERRUPTED: Final = 130
"""Interrupted with Ctrl-C."""
EXIT_TERMINATED: Final = 143
"""SIGTERM during layout: 128 + SIGTERM, as a shell reports it."""

SCRIPT_EXITS: Final = (
    "[bold]Exit codes[/]  0 ok · 1 error · 2 bad usage · 3 the script raised · N the script called "
    "sys.exit(N) or os._exit(N): what was captured is written, then gradviz exits N · "
    "130 Ctrl-C · 143 SIGTERM during layout"
)
"""The exit codes of the commands that run a script and draw (``run``, ``tree``): their help's
epilog."""


def script_exit_code(error: BaseException) -> int:
    """The exit code for a script that ended with ``error``: Ctrl-C; ``sys.exit`` (or
    ``os._exit``), its status as Python gives it; else a failure."""
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, SystemExit):
        return exit_code_of(error.code)
    return EXIT_SCRIPT_FAILED
