"""The `gradviz` command: parse, call the library, print, pick the exit code.

Exit codes: 0 success; 1 a gradviz error (missing script, syntax error, nothing to draw,
unwritable output, no Graphviz, layout timeout); 2 bad usage; 3 the script raised (graphs
captured before the error are still written); 4 `doctor` found a warning or an error;
130 interrupted with Ctrl-C; 143 SIGTERM during layout.

`app` builds the Typer app and `main` runs it (the console script); `options` declares every
option once; one module per command (`run`, `tree`, `doctor`, `diff`), each: parse, call the
library, print, exit code; `drawing` writes graphs, `terminal` holds what they share.
"""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
