"""Walk an autograd graph from output tensors into a `Graph`.

The walk is iterative (breadth-first over a growing list, no recursion) and keeps a seen-map, so
a node shared by many paths is visited once and a chain of a million ops is no harder than a
chain of ten. It runs in two passes: one visits every autograd node and notes the edges, with
nothing else in the loop; the next describes each node with a `Node` record whose id is left
blank, where most ops share one record (their type's). The `Graph` gives each node its id when
its records are first read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypedDict

import torch

from ..errors import GradvizError, NoGraphError
from ..model import OP_SHAPES_UP_TO, Graph
from . import regions
from .opened import open_regions
from .stats import unread_note
from .walker import Walker

__all__ = [
    "OP_SHAPES_UP_TO",
    "Outputs",
    "WalkOptions",
    "build_graph",
    "named_outputs",
    "start_walk",
]

Outputs: TypeAlias = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
"""A tensor, a tuple/list of tensors, or a dict of named tensors."""


class WalkOptions(TypedDict, total=False):
    """The switches of `build_graph` (and `capture`), as one value to pass along."""

    show_saved: bool
    show_attrs: bool
    show_inputs: bool
    source: bool
    modules: bool
    op_shapes: bool | None


def named_outputs(outputs: Outputs) -> list[tuple[str | None, torch.Tensor]]:
    """Normalise ``outputs`` to ``[(name or None, tensor), ...]``; reject anything else."""
    if isinstance(outputs, torch.Tensor):
        pairs: list[tuple[str | None, Any]] = [(None, outputs)]
    elif isinstance(outputs, Mapping):
        pairs = [(str(k), v) for k, v in outputs.items()]
    elif isinstance(outputs, (tuple, list)):
        pairs = [(None, v) for v in outputs]
    else:
        raise GradvizError(
            f"expected a tensor, or a tuple, list or dict of tensors; got {type(outputs).__name__}"
        )
    if not pairs:
        raise GradvizError("no output tensors given")
    for name, value in pairs:
        if not isinstance(value, torch.Tensor):
            where = f"output {name!r}" if name is not None else "an output"
            raise GradvizError(f"{where} is a {type(value).__name__}, not a tensor")
    return pairs


def build_graph(
    outputs: Outputs,
    *,
    params: Mapping[str, torch.Tensor] | None = None,
    show_saved: bool = False,
    show_attrs: bool = False,
    show_inputs: bool = False,
    source: bool = False,
    modules: bool = False,
    op_shapes: bool | None = None,
) -> Graph:
    """Walk the autograd graph behind ``outputs`` into a `Graph`.

    Args:
        outputs: a tensor, or a tuple/list/dict of tensors; a dict's keys name the roots.
        params: ``{name: tensor}`` naming leaves (``dict(model.named_parameters())``) and
            intermediate tensors (a non-leaf names the node of its ``grad_fn``).
        show_saved: add the tensors each backward function saved, as ``saved`` nodes.
        show_attrs: record each backward function's non-tensor saved attributes.
        show_inputs: add an ``input`` node for each forward input that needs no gradient (a
            ``None`` slot of ``next_functions``: a constant tensor, or a Python number).
        source: record each op's forward call site. Only ops created inside
            ``capture(source=True)`` (`sources.SourceTagger`) or under anomaly mode
            (``torch.autograd.set_detect_anomaly(True)``) carry one.
        modules: record the ``nn.Module`` that made each op; only ops created under
            `modules.tag_modules` (or ``capture(modules=True)``) carry one. A leaf named like a
            parameter of such a module (``model.0.weight``) is placed in it.
        op_shapes: record the shape and dtype of each op's output. None (the default) reads
            them for graphs of at most `OP_SHAPES_UP_TO` nodes and notes it when it does not:
            reading one costs several times what visiting the node does.

    Raises:
        NoGraphError: an output has no graph (no ``grad_fn`` and no ``requires_grad``).
        GradvizError: ``outputs`` is not a tensor or a collection of tensors.
    """
    options: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    graph, walker = start_walk(outputs, params, options)
    graph = open_regions(graph, walker.regions)
    unread = unread_note(walker.unread)
    return graph.replace(notes=graph.notes + unread) if unread else graph


def start_walk(
    outputs: Outputs,
    params: Mapping[str, torch.Tensor] | None,
    options: WalkOptions,
    *,
    read_grads: bool = True,
) -> tuple[Graph, Walker]:
    """`build_graph`, plus the `Walker`: its `hookable` lists the autograd nodes met, its
    `leaf_grads` reads the ``.grad`` of the tensors met, after a backward, and its ``unread``
    says which gradients could not be summarised (the graph does not note them), and its
    ``regions`` the compiled regions met, for `opened.open_regions` to open. Without
    ``read_grads`` the leaves' ``.grad`` are left unread (None) in the graph: the walk before
    a backward call, whose ``leaf_grads`` after it replace them all."""
    roots = named_outputs(outputs)
    for name, tensor in roots:
        try:
            fn = tensor.grad_fn
        except RuntimeError as exc:  # e.g. an output of split() whose base was changed in place
            raise GradvizError(f"torch gives no graph for this tensor: {exc}") from None
        if fn is None and not tensor.requires_grad:
            what = f"output {name!r}" if name is not None else "the output tensor"
            raise NoGraphError(
                f"{what} has no autograd graph: it has no grad_fn and does not require grad "
                "(it was made under torch.no_grad() or inference_mode, from .detach() or .data, "
                "or only from tensors that do not require grad)"
            )
    walker = Walker(params or {}, options, read_grads=read_grads)
    graph = walker.run(roots)
    # Read now, before the engine runs: compiling a region's backward may drop its graph.
    walker.regions = regions.find(walker.fns, graph.column("op"))
    return graph, walker
