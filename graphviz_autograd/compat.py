"""torchviz's `make_dot`, drawn by gradviz: change one import and keep the rest of the code.

``from torchviz import make_dot`` becomes ``from graphviz_autograd import make_dot``. The result is
still a `graphviz.Digraph`, so ``.render()``, ``.pipe()``, ``.view()``, ``.attr()``, ``.format``
and Jupyter display work as before (they are the `graphviz` package's own). The graph in it is
gradviz's: walked without recursion (any depth), with stable node ids, one node per leaf, and
``show_saved``/``show_attrs`` that still work after ``backward()`` (a freed tensor is drawn as
freed, where torchviz raises).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import graphviz

from .renderers.dot import to_dot
from .renderers.fitting import fold_for

if TYPE_CHECKING:
    import torch

    from .trace.walk import Outputs

__all__ = ["make_dot", "to_digraph"]


def make_dot(
    var: Outputs,
    params: Mapping[str, torch.Tensor] | None = None,
    show_attrs: bool = False,
    show_saved: bool = False,
    max_attr_chars: int = 50,
    *,
    max_nodes: int | None = None,
) -> graphviz.Digraph:
    """The autograd graph behind ``var`` as a `graphviz.Digraph`, with torchviz's signature.

    Colours are gradviz's (see the legend under the picture): leaves that require grad blue,
    saved tensors orange, outputs green, ops grey.

    Args:
        var: an output tensor, or a tuple (also a list or dict) of them.
        params: ``{name: tensor}`` naming the tensors met (``dict(model.named_parameters())``).
        show_attrs: list each op's non-tensor saved attributes (``dim``, ``exponent``...).
        show_saved: draw the tensors each op saved for backward (freed ones too).
        max_attr_chars: cut each attribute value shown to this many characters.
        max_nodes: fold graphs bigger than this (default 1,500; 0 never), so that the picture
            lays out in seconds: repeated structure is drawn once with ``×N``, and a note under
            the picture says so. A gradviz extra, keyword only.

    Raises:
        NoGraphError: ``var`` has no autograd graph.
        GradvizError: ``var`` is not a tensor or a collection of tensors.
    """
    from .trace.walk import build_graph  # torch is imported when tensors are first walked

    graph = build_graph(var, params=params, show_attrs=show_attrs, show_saved=show_saved)
    graph = fold_for(graph, "svg", max_nodes)
    return to_digraph(to_dot(graph, attr_chars=max(max_attr_chars, 3) if show_attrs else 0))


def to_digraph(source: str) -> graphviz.Digraph:
    """A `graphviz.Digraph` holding the statements of DOT ``source`` (a ``digraph { ... }``
    written by `to_dot`) in its body, one line each, put there at once."""
    _, brace, inside = source.partition("{\n")
    statements, closing, _ = inside.rpartition("}")
    if not brace or not closing:
        raise ValueError("not a DOT digraph: no { ... }")
    dot = graphviz.Digraph()
    dot.body.extend(statements.splitlines(keepends=True))
    return dot
