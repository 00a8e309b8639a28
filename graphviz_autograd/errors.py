"""Errors raised by gradviz. Each message is one line meant for the person at the keyboard."""

from __future__ import annotations

__all__ = ["GradvizError", "GraphvizNotFoundError", "NoGraphError", "LayoutTimeoutError"]


class GradvizError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in gradviz."""


class NoGraphError(GradvizError, ValueError):
    """A tensor has no autograd graph to draw."""


class GraphvizNotFoundError(GradvizError, RuntimeError):
    """The Graphviz `dot` program is needed (SVG/PNG/PDF) but is not installed."""


class LayoutTimeoutError(GradvizError, TimeoutError):
    """Graphviz layout took longer than the allowed time."""

    def __init__(self, message: str, dot: str | None = None) -> None:
        super().__init__(message)
        self.dot = dot
        """The DOT that did not lay out in time, when known: to lay out without a deadline."""
