"""Reentrant checkpoints: ``torch.utils.checkpoint.checkpoint(fn, x, use_reentrant=True)``.

Such a checkpoint runs ``fn`` under ``torch.no_grad()``: the graph gets one opaque
``CheckpointFunctionBackward`` node in place of the ops ``fn`` ran, and the parameters ``fn``
uses are not in it. In backward, that node runs ``fn`` again, with grad, and calls
``torch.autograd.backward`` on what it made: a backward call of its own, made inside the one
that runs the node. `record.capture` records it and names it after that call (``1.1`` is the
first call made inside call 1, see `record.BackwardCall`).

`find` says what each such node runs; `mark` writes it on the node (its ``attrs``: the tooltip
and JSON show them) and in the graph's notes, with the call that recomputed it and how to see
inside. With ``use_reentrant=False`` the ops are recorded as ordinary nodes: nothing to do.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from types import FrameType
from typing import Any, Final, NamedTuple

import torch
from torch.utils.checkpoint import CheckpointFunction

from ..model import CHECKPOINT_OP, Graph
from ..text import count_of

__all__ = ["Checkpoint", "find", "is_recompute", "mark", "recompute_inputs"]

_LISTED: Final = 8  # parameter names a node's tooltip lists
_BACKWARD: Final = CheckpointFunction.backward.__code__


class Checkpoint(NamedTuple):
    """What a reentrant checkpoint runs."""

    runs: str
    """The module's path (``block``, ``model.layers.0``), a method's (``layers.0.forward``),
    or a function's name; ``""`` when unknown."""
    kind: str
    """The module's class name, or ``"function"``."""
    params: tuple[str, ...] | None
    """The names of the parameters that require grad of the module it runs (or of the module
    whose method it runs); None for a plain function, whose parameters cannot be known."""


def find(graph: Graph, fns: Sequence[Any], names: Mapping[int, str]) -> dict[int, Checkpoint]:
    """The reentrant checkpoints of a walked ``graph`` by node index (``fns[i]`` is the autograd
    node of node ``i``); ``names`` names tensors by ``id``."""
    if CHECKPOINT_OP not in graph.column("op"):  # one pass in C: most graphs have none
        return {}
    found: dict[int, Checkpoint] = {}
    for index, op in enumerate(graph.column("op")):
        if op == CHECKPOINT_OP and getattr(fns[index], "_forward_cls", None) is CheckpointFunction:
            found[index] = _describe(fns[index], names)
    return found


def _describe(fn: Any, names: Mapping[int, str]) -> Checkpoint:
    run = getattr(fn, "run_function", None)  # what checkpoint() was given, kept on its node
    module = None
    while isinstance(run, functools.partial):  # transformers: partial(forward, layer, **kwargs)
        if run.args and isinstance(run.args[0], torch.nn.Module):
            module = run.args[0]
        run = run.func
    if module is None:
        module = run if isinstance(run, torch.nn.Module) else getattr(run, "__self__", None)
    if not isinstance(module, torch.nn.Module):
        return Checkpoint(getattr(run, "__name__", ""), "function", None)
    params = [(rel, p) for rel, p in module.named_parameters() if p.requires_grad]
    path = None  # the module's own path, from the name of one of its parameters
    for rel, p in params:
        full = names.get(id(p))
        if full is not None and full.endswith("." + rel):
            path = full[: -len(rel) - 1]
            break
    prefix = f"{path}." if path else ""
    listed = tuple(names.get(id(p)) or f"{prefix}{rel}" for rel, p in params)
    runs = path or ""
    method = getattr(run, "__name__", "forward")
    if run is not module and method not in ("__call__", "forward"):  # another of its methods
        runs = f"{runs}.{method}" if runs else f"{type(module).__name__}.{method}"
    return Checkpoint(runs, type(module).__name__, listed)


def is_recompute(frame: FrameType | None) -> bool:
    """Whether ``frame``, the caller of ``torch.autograd.backward``, is a reentrant checkpoint's
    backward: the call recomputes the checkpoint's forward and runs backward through it."""
    return frame is not None and frame.f_code is _BACKWARD


def recompute_inputs(
    frame: FrameType, names: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Names for the copies of its inputs that a reentrant checkpoint's backward (``frame``)
    detached to run its forward again: ``x (detached)`` after the input's name in ``names``,
    else ``checkpoint input 0``. Read from the frame's variables: none if torch renames them."""
    scope = frame.f_locals
    inputs, copies = scope.get("inputs"), scope.get("detached_inputs")
    if not isinstance(inputs, (list, tuple)) or not isinstance(copies, tuple):
        return {}
    named = {id(tensor): name for name, tensor in names.items()}
    out: dict[str, torch.Tensor] = {}
    for i, (given, copy) in enumerate(zip(inputs, copies, strict=False)):
        if isinstance(copy, torch.Tensor) and copy.requires_grad:
            name = named.get(id(given))
            out[f"{name} (detached)" if name else f"checkpoint input {i}"] = copy
    return out


def mark(
    graph: Graph, found: Mapping[int, Checkpoint], recomputes: Mapping[int, str] | None = None
) -> Graph:
    """``graph`` with its reentrant checkpoints (`find`) described in their nodes' ``attrs``
    and in two notes; ``recomputes`` names the backward call that recomputed each."""
    if not found:
        return graph
    recomputes = recomputes or {}
    nodes = list(graph.nodes)
    for index, checkpoint in found.items():
        node = nodes[index]
        attrs = [("checkpoint", "reentrant: the ops it ran are not drawn here")]
        attrs.append(("runs", _runs(checkpoint, listed=_LISTED)))
        if index in recomputes:
            attrs.append(("recomputed in", f"backward call {recomputes[index]}"))
        nodes[index] = node._replace(attrs=(*node.attrs, *attrs))
    notes = _notes({i: (nodes[i].id, nodes[i].name) for i in found}, found, recomputes)
    return graph.replace(nodes=tuple(nodes), notes=(*graph.notes, *notes))


def _runs(checkpoint: Checkpoint, *, listed: int) -> str:
    """``block (Sequential, 4 parameters: block.0.weight, …)``."""
    runs, kind, params = checkpoint
    text = f"{runs} ({kind}" if runs else kind
    if params is not None:
        shown = _list(params, listed)
        text += f", {count_of(len(params), 'parameter')}" + (f": {shown}" if params else "")
    return text + ")" if runs else text


def _notes(
    nodes: Mapping[int, tuple[str, str | None]],
    found: Mapping[int, Checkpoint],
    recomputes: Mapping[int, str],
) -> tuple[str, str]:
    """What the checkpoints (``nodes``: index -> id and name) hide, and how to see it."""
    params = {p for c in found.values() for p in c.params or ()}
    hidden = "the ops it ran" if len(found) == 1 else "the ops they ran"
    if params:
        least = "at least " if any(c.params is None for c in found.values()) else ""
        hidden += f" and the {least}{count_of(len(params), 'parameter')} they use"
    if len(found) == 1:
        ((index, (node_id, name)),) = nodes.items()
        ref = f"{name} ({node_id})" if name else node_id
        runs = found[index].runs
        of = f" of {runs}" if runs else ""
        what = f"{ref} is a reentrant checkpoint{of}: {hidden} are not drawn here"
    else:  # in the order backward recomputed them
        order = sorted(found, key=lambda i: _call_key(recomputes.get(i, "0")))
        each = []
        for index in order:
            node_id, name = nodes[index]
            call = f", call {recomputes[index]}" if index in recomputes else ""
            each.append(f"{found[index].runs or name or node_id} ({node_id}{call})")
        what = f"{len(found)} reentrant checkpoints hide {hidden}: {_list(each)}"
    calls = sorted(recomputes.values(), key=_call_key)
    if not calls:
        see = "--call N.1 draws the backward call made inside call N, which recomputes them"
    elif len(calls) == 1:
        see = f"--call {calls[0]} draws backward call {calls[0]}, which recomputed them"
    else:
        see = f"--call {calls[0]} … {calls[-1]} draw the backward calls that recomputed them"
    return (
        what,
        f"To see inside: {see}; or checkpoint with use_reentrant=False",
    )


def _call_key(name: str) -> tuple[int, ...]:
    return tuple(map(int, name.split(".")))


def _list(items: Iterable[str], limit: int = 6) -> str:
    shown = list(items)
    return ", ".join(shown[:limit]) + (", …" if len(shown) > limit else "")
