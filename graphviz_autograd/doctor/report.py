"""The doctor's report in the terminal (rich). The JSON form is `findings.to_json`."""

from __future__ import annotations

import os
from typing import Final

from rich.console import Console
from rich.markup import escape

from ..model import Source
from .findings import Finding, counts

__all__ = ["print_report"]

_STYLE: Final = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _where(source: Source, relative_to: str) -> str:
    """``train.py:12``: the file relative to ``relative_to`` when it lies inside it, else its
    absolute path (``/tmp/x/train.py``, not ``../../../tmp/x/train.py``)."""
    path = os.path.abspath(source.file)
    try:
        inside = os.path.relpath(path, relative_to)
    except ValueError:  # another drive
        inside = os.pardir
    if inside != os.pardir and not inside.startswith(os.pardir + os.sep):
        path = inside
    return f"{escape(path)}:{source.line}"


def _line(source: Source, relative_to: str) -> str:
    code = f"  [dim]{escape(source.code)}[/]" if source.code else ""
    return f"{_where(source, relative_to)}{code}"


def print_report(
    console: Console, findings: list[Finding], *, script: str, calls: int, cwd: str = "."
) -> None:
    """Print ``findings`` for ``script`` (which made ``calls`` backward calls)."""
    tally = counts(findings)
    summary = (
        ", ".join(f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in tally.items() if n)
        or "no findings"
    )
    console.print(
        f"[bold]gradviz doctor[/] {escape(script)}: {calls} backward call"
        f"{'' if calls == 1 else 's'}, {summary}"
    )
    for finding in findings:
        style = _STYLE[finding.severity]
        console.print()
        console.print(
            f"[{style}]{finding.severity}[/] [bold]{finding.code}[/]  {escape(finding.message)}"
        )
        if finding.source is not None:
            console.print(f"  at {_line(finding.source, cwd)}")
        for node in finding.nodes:
            if node.source is None or node.source == finding.source:
                continue
            name = f" {escape(node.name)}" if node.name else ""
            console.print(f"  {escape(node.op)}{name}: {_line(node.source, cwd)}")
        if finding.params and len(finding.params) > 6:
            console.print(f"  params: {escape(', '.join(finding.params))}")
        console.print(f"  [green]fix:[/] {escape(finding.hint)}")
