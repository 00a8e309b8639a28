"""The output formats: their names, the file extensions that name them, and `resolve`, the one
place a path and an optional format name settle which format a file is written in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal, TypeAlias

from ..errors import GradvizError

__all__ = ["FORMATS", "Format", "resolve"]

Format: TypeAlias = Literal["svg", "png", "pdf", "dot", "json", "html", "mermaid"]
FORMATS: Final[dict[str, Format]] = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".json": "json",
    ".html": "html",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}
"""File extension -> output format."""


def resolve(path: str | os.PathLike[str], fmt: str | None = None) -> Format | None:
    """The format ``fmt`` names, else the one the extension of ``path`` names; None when it
    names none (each caller says what to do instead: its options differ).

    Raises:
        GradvizError: ``fmt`` is not a format's name, or the extension of ``path`` names
            another format (PNG bytes in ``g.svg`` would open as a broken picture).
    """
    named = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        return named
    if fmt not in FORMATS.values():
        raise GradvizError(f"unknown format {fmt!r}: use svg, png, pdf, dot, json, html or mermaid")
    if named is not None and named != fmt:
        fixed = Path(path).with_suffix("." + ("mmd" if fmt == "mermaid" else fmt))
        raise GradvizError(
            f"cannot write {fmt} into {os.fspath(path)!r}: its extension says {named}; "
            f"name it {fixed.name}, or leave out the format"
        )
    return fmt  # type: ignore[return-value]
