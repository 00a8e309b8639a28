"""Plain English that every stage writes: counts of things (``1 node``, ``1,500 nodes``), lists
(``a, b and 3 more``)."""

from __future__ import annotations

__all__ = ["count_of", "listed", "one_or_many"]


def count_of(n: int, what: str) -> str:
    """``1 node``, ``1,500 nodes``: ``n`` and ``what``, plural unless one."""
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


def one_or_many(n: int, one: str, many: str) -> str:
    """``one`` when ``n`` is 1, else ``many``: ``w reaches``, ``w, b reach``."""
    return one if n == 1 else many


def listed(names: tuple[str, ...], most: int = 6) -> str:
    """``a, b, c``; past ``most`` names, ``a, b, c, d, e, f and 3 more``."""
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most} more"
