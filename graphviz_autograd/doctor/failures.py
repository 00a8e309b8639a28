"""Rules for a ``backward`` call that raised: why it failed, as a `Finding`.

Pure functions of the records in `observations` (no torch): the backward watch (`backward`)
reads the failure, these hold what the doctor says about it.
"""

from __future__ import annotations

from .findings import Finding, NodeRef
from .observations import Failure, FreedTwice, InplaceModified, NoGraph, NonScalar

__all__ = ["explain"]


def explain(failure: Failure) -> Finding:
    """The finding that explains ``failure``."""
    if isinstance(failure, FreedTwice):
        return backward_twice(failure)
    if isinstance(failure, InplaceModified):
        return inplace_modified(failure)
    if isinstance(failure, NoGraph):
        return no_graph(failure)
    return non_scalar_backward(failure)


def backward_twice(failure: FreedTwice) -> Finding:
    freed_by, node, via, carried = failure.freed_by, failure.node, failure.via, failure.carried
    by = (
        f"call {freed_by.name} (line {freed_by.source.line})"
        if freed_by is not None and freed_by.source is not None
        else "an earlier call"
    )
    op = f" {node.op}'s saved tensors" if node is not None else " it"
    at = f" at line {via.source.line}" if via is not None and via.source is not None else ""
    through = ""
    if carried is not None or via is not None:
        through = f", reached through {carried or 'a tensor'}{at}"
    message = (
        f"Backward call {failure.call.name} ran through a graph that {by} had already "
        f"freed{through}:{op} were gone."
    )
    # The same backward line again (a loop) over a graph an earlier iteration made: a state
    # carried across iterations. Else two backward calls through one graph on purpose.
    again = (
        freed_by is not None
        and freed_by.source is not None
        and failure.call.source is not None
        and freed_by.source.line == failure.call.source.line
        and freed_by.source.file == failure.call.source.file
    )
    if again:
        state = carried or "the state"
        hint = (
            f"Detach the state carried from one iteration to the next: {state} = "
            f"{state}.detach() before it is used again{at} (truncated backpropagation "
            "through time). retain_graph=True would backpropagate into every earlier "
            "iteration and keep all their graphs in memory."
        )
    else:
        hint = (
            "Pass retain_graph=True to the first backward call if you need the graph "
            "again, or recompute the forward pass before each backward call."
        )
    return Finding(
        "backward-twice",
        message,
        hint,
        nodes=tuple(n for n in (node, via) if n is not None),
        source=failure.call.source,
    )


def inplace_modified(failure: InplaceModified) -> Finding:
    node, write, clash = failure.node, failure.write, failure.clash
    versions = f" (version {clash.version}, expected {clash.expected})" if clash is not None else ""
    saver = f"{node.op} saved a tensor" if node is not None else "A tensor was saved"
    where = (
        f" by {write.op} at line {write.source.line}"
        if write is not None and write.source is not None
        else ""
    )
    refs = ((node,) if node is not None else ()) + ((write,) if write is not None else ())
    return Finding(
        "inplace-modified",
        f"{saver} for backward that was then modified in place{where}{versions}.",
        "Use the out-of-place op (x = x + 1, not x += 1 / x.add_(1)), or clone() the "
        "tensor before modifying it.",
        nodes=refs,
        source=failure.call.source,
    )


def no_graph(failure: NoGraph) -> Finding:
    cut, block = failure.cut, failure.block
    if cut is not None and block is not None:
        why = f"it was computed inside `{block.code}` at line {block.line}" + (
            f" (the first op cut there: line {cut.source.line})" if cut.source is not None else ""
        )
        hint = (
            f"Compute the forward pass and the loss with grad on: out of the block at line "
            f"{block.line} (keep {cut.how} for evaluation only)."
        )
    elif cut is not None:
        why = f"it comes from {cut.how}" + (
            f" at line {cut.source.line}" if cut.source is not None else ""
        )
        hint = (
            f"Compute it with grad on: move the forward out of {cut.how}."
            if "grad" in cut.how or "inference" in cut.how
            else f"Do not cut the graph with {cut.how} on the way to the loss."
        )
    elif failure.inference:
        why = "it was made under torch.inference_mode()"
        hint = "Compute the loss outside torch.inference_mode()."
    else:
        why = "none of the tensors it was computed from requires grad"
        hint = "Create the parameters with requires_grad=True (or as nn.Parameter in a module)."
    nodes = (
        (NodeRef(None, "cut", None, cut.source),)
        if cut is not None and cut.source is not None
        else ()
    )
    return Finding(
        "no-graph",
        f"backward() on {failure.name}, which has no graph: {why}.",
        hint,
        nodes=nodes,
        source=block or failure.call.source,
    )


def non_scalar_backward(failure: NonScalar) -> Finding:
    name = failure.name
    return Finding(
        "non-scalar-backward",
        f"backward() on {name} of shape {failure.shape}, not a scalar, without gradient=.",
        f"Reduce it first ({name}.sum().backward() or .mean()), or pass "
        f"gradient= with its shape: {name}.backward(torch.ones_like({name})).",
        source=failure.call.source,
    )
