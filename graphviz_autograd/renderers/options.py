"""`DrawOptions`: how a graph is drawn, as one typed value that the Python API and the command
line build from their keywords and flags and hand down to `encode` and `picture.draw`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from .dot import Labels
from .marks import Mark

__all__ = ["DRAW_KEYS", "DrawOptions"]


@dataclass(frozen=True, slots=True)
class DrawOptions:
    """The drawing options of `render` and friends; each default is the renderers' own."""

    rankdir: str = "TB"
    """Layout direction: ``TB`` puts leaves on top; ``LR``, ``BT``, ``RL``."""
    show_order: bool = False
    """Number nodes in the order backward ran them."""
    edge_grads: bool | None = None
    """Label each edge with the gradient that flowed along it (DOT and pictures); None: for
    small graphs (`dot.EDGE_GRADS_UP_TO`)."""
    scale: tuple[float, float] | None = None
    """The gradient norms the shading's ends stand for (`style.shared_scale`); None: the
    graph's own."""
    labels: Labels = "short"
    """What node labels show: ``short``, ``attrs`` (op attributes), ``full`` (also gradient
    values and source lines)."""
    timeout: float | None = None
    """Seconds a picture's layout may take (None: `picture.DEFAULT_LAYOUT_TIMEOUT`; 0: no
    limit)."""
    max_nodes: int | None = None
    """Fold to at most this many nodes (0: never); None: as the format does by default
    (`fitting.fold_budget`)."""
    depth: int | None = None
    """Draw each module nested deeper than this as one node."""
    marks: tuple[Mark, ...] | None = None
    """Findings to draw on the graph (`marks.Mark`, made by ``api.finding_marks``): pictures
    and DOT outline their nodes, the explorer lists them; an empty tuple is a report that found
    nothing (the explorer says so)."""


DRAW_KEYS: Final = frozenset(field.name for field in fields(DrawOptions))
"""The keyword names of `DrawOptions`."""
