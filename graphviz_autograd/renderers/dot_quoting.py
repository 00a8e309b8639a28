"""DOT text quoting: labels as double-quoted strings, node ids as DOT IDs.

Every label is a double-quoted DOT string, never an HTML label, so a name like
``<script>"];x->y;`` stays inert text. Graphviz reads character entities (``&lt;``, ``&#92;``)
in every string, so ``&`` is written ``&amp;``.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["dot_id", "dot_ids", "escape", "quote"]


def quote(text: str) -> str:
    """``text`` as a DOT double-quoted string; newlines become centred line breaks."""
    return '"' + escape(text) + '"'


def escape(text: str) -> str:
    """The inside of `quote`."""
    if _SPECIAL(text) is None:  # most names and titles: nothing to escape
        return text
    if _MARKUP(text) is not None:  # rare: most texts have line breaks and nothing else
        text = text.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
        text = text.replace("\r", "")
    return text.replace("\n", "\\n")


_SPECIAL: Final = re.compile(r'[&\\"\r\n]').search
"""The first character of a text that `escape` changes, or None."""
_MARKUP: Final = re.compile(r'[&\\"\r]').search
"""The first such character other than a line break, or None."""

_KEYWORDS: Final = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def dot_id(node_id: str) -> str:
    """A node id as a DOT ID: bare when it is a plain identifier (``n12``), else quoted."""
    if node_id.isidentifier() and node_id.isascii() and node_id.lower() not in _KEYWORDS:
        return node_id
    return quote(node_id)


def dot_ids(ids: list[str]) -> list[str]:
    """The DOT ID of each node id: ``ids`` itself when every one is a plain identifier."""
    if all(map(str.isidentifier, ids)):  # then no id has a newline, and one join checks all
        joined = "\n".join(ids)
        lowered = joined.lower()  # DOT keywords ignore case
        if joined.isascii() and _KEYWORDS.isdisjoint(
            ids if lowered == joined else lowered.split("\n")
        ):
            return ids
    return list(map(dot_id, ids))
