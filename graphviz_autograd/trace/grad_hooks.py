"""What the engine does in one backward call, seen from node hooks: when each node ran, the
gradient at each of its forward outputs, and what it passed to each of its inputs; then the
walked graph with all of that written in (`GradHooks.apply`)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from ..model import Edge, Graph, TensorStats
from .stats import Unread, same_values, shape_of

__all__ = ["GradHooks"]


class _FirstBad(NamedTuple):
    """The node whose gradient was the first NaN/Inf the engine made."""

    order: int
    """When it ran (1-based)."""
    node_id: str


class _Seen(NamedTuple):
    """A gradient summarised in this call (`GradHooks.known`)."""

    ref: weakref.ref[Any]
    version: int
    summary: TensorStats | None
    """None when it could not be read."""
    node: int
    """The index of the node whose hook read it."""


class GradHooks:
    """Node hooks that note, for each node the engine runs, when it ran, the gradient with
    respect to each of its forward outputs (``grad_outputs``) and what it passed to each of its
    inputs (``grad_inputs``, by slot: what flows along its incoming edges). Removed by
    `remove`."""

    def __init__(self, fns: list[tuple[int, Any]]) -> None:
        self.order: dict[int, int] = {}
        self.grads: dict[int, tuple[TensorStats | None, ...]] = {}
        self.flows: dict[int, tuple[TensorStats | None, ...]] = {}
        self.unread = Unread()  # a hook must not raise: that would fail the user's backward
        self.known: dict[Hashable, _Seen] = {}
        self.kept: dict[int, _Seen] = {}
        """Node index -> the ``.grad`` its ``AccumulateGrad`` left, as read (`leaf_grad`)."""
        self.handles = [fn.register_hook(self._hook(index, fn)) for index, fn in fns]

    def _hook(self, index: int, fn: Any = None) -> Callable[[Any, Any], None]:
        leaf = getattr(fn, "variable", None)  # an AccumulateGrad's: the leaf it fills

        def hook(grad_inputs: Any, grad_outputs: Any) -> None:
            self.order[index] = len(self.order) + 1
            self.grads[index] = tuple(self._summary(g, index) for g in grad_outputs)
            self.flows[index] = tuple(self._summary(g, index) for g in grad_inputs)
            if leaf is not None and len(grad_outputs) == 1:
                self._keep(index, leaf, grad_outputs[0])

        return hook

    def _keep(self, index: int, leaf: Any, given: Any) -> None:
        """Note ``leaf``'s ``.grad`` when it holds what its AccumulateGrad was handed,
        ``given``, as is (torch makes it a detached alias of ``given`` when nothing else holds
        that): its summary is ``given``'s. The weak reference is to the ``.grad`` object, which
        torch keeps as long as the tensor lives."""
        try:
            if getattr(leaf, "_post_accumulate_grad_hooks", None):
                return  # they may change .grad behind its version (.data.div_(n)): read it after
            grad = leaf.grad
            if (
                grad is not None
                and given is not None
                and grad.data_ptr() == given.data_ptr()
                and grad.dtype == given.dtype
                and grad.shape == given.shape
                and grad.stride() == given.stride()
            ):
                summary = self.grads[index][0]
                self.kept[index] = _Seen(weakref.ref(grad), grad._version, summary, index)
        except Exception:  # an odd tensor type: its .grad is read after the call
            pass

    def _summary(self, grad: Any, index: int) -> TensorStats | None:
        """The summary of ``grad``, a gradient node ``index`` got or passed on; made once per
        tensor and version. What a node passes to an input is, as often as not, the very
        tensor its producer gets as the gradient at its output (and an add or a view of the
        same shape hands on the tensor it got): summarised once, not twice. A weak reference
        tells a tensor from a later one at the same address; the version, one changed in place
        (the engine adds a second gradient into the first)."""
        if grad is None:
            return None
        try:
            version = grad._version
            seen = self.known.get(id(grad))
            if seen is None or seen.ref() is not grad or seen.version != version:
                seen = self.known[id(grad)] = self._read(grad, version, index)
            if seen.summary is None and seen.node != index:  # unreadable here too
                self.unread.setdefault(index, self.unread[seen.node])
            return seen.summary
        except Exception:  # no version or no weak reference (an odd tensor type): each time
            return self.unread.summarize(grad, index)

    def _read(self, grad: Any, version: int, index: int) -> _Seen:
        """``grad`` summarised; or, for a view, transpose or reshape of a gradient summarised
        before over the same values (`stats.same_values`: the same memory, read in the same
        order), that one's summary with this shape. The engine hands on such views at every
        reshape and transpose of a transformer's attention: half the values a ViT's hooks see."""
        region = same_values(grad)
        like = self.known.get(region) if region is not None else None
        if like is not None and like.ref() is not None and like.version == version:
            if like.summary is not None:
                summary = like.summary.reshaped(shape_of(grad))
                return _Seen(weakref.ref(grad), version, summary, like.node)
        seen = _Seen(weakref.ref(grad), version, self.unread.summarize(grad, index), index)
        if region is not None:
            self.known[region] = seen
        return seen

    def leaf_grad(self, index: int, grad: Any) -> TensorStats | None:
        """The summary of ``grad``, the ``.grad`` of the leaf of node ``index`` after the call,
        when it holds the very gradient that node's ``AccumulateGrad`` was handed and read (as
        after ``zero_grad()``), unchanged since; else None, to be read anew. A parameter's
        gradient is read once a call, not twice."""
        kept = self.kept.get(index)
        if kept is None or grad._version != kept.version or kept.ref() is not grad:
            return None
        return kept.summary

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.known.clear()

    def apply(
        self,
        graph: Graph,
        leaf_grads: dict[int, TensorStats | None],
        returned: frozenset[int] = frozenset(),
    ) -> Graph:
        """``graph`` with each node's execution order and, for ops, its gradient(s); and the
        ``.grad`` read after the call (``leaf_grads``, node index -> summary), or for the nodes
        at ``returned``, the gradient ``torch.autograd.grad`` returned instead
        (`Node.grad_returned`). One new node per node that changed."""
        nodes = list(graph.nodes)
        first_bad: _FirstBad | None = None
        grads_of, order_of = self.grads, self.order
        for index in order_of.keys() | leaf_grads.keys():
            node = nodes[index]
            order = order_of.get(index)
            grads = grads_of.get(index, ())
            if node.kind == "op" and order is not None:  # the gradient of this call
                grad = grads[0] if grads else None
            elif index in leaf_grads:  # a leaf's accumulated .grad, not just this call's part
                grad = leaf_grads[index]
            else:
                grad = node.grad
            several = grads if len(grads) > 1 else None
            node = node._replace(grad=grad, grads=several, order=order)
            if index in returned and node.kind != "op":
                node = node._replace(grad_returned=True)
            nodes[index] = node
            if order is not None and any(g is not None and (g.nan or g.inf) for g in grads):
                if first_bad is None or order < first_bad.order:
                    first_bad = _FirstBad(order, node.id)
        return graph.replace(
            nodes=tuple(nodes),
            edges=self._edges(graph),
            first_nonfinite=first_bad.node_id if first_bad else None,
        )

    def _edges(self, graph: Graph) -> tuple[Edge, ...]:
        """``graph``'s edges, each data edge with what flowed along it (`Edge.grad`) and, for a
        scalar flow, its local derivative (`Edge.local`)."""
        flows, grads = self.flows, self.grads
        edges = list(graph.edges)
        index = {node_id: i for i, node_id in enumerate(graph.column("id"))}
        for k, edge in enumerate(edges):
            into = index[edge.dst]
            passed = flows.get(into, ())
            if edge.slot is None or edge.slot >= len(passed) or passed[edge.slot] is None:
                continue
            grad = passed[edge.slot]
            edges[k] = edge._replace(grad=grad, local=_local(grad, grads.get(into, ())))
        return tuple(edges)


def _local(grad: TensorStats | None, outputs: tuple[TensorStats | None, ...]) -> float | None:
    """``grad`` over the gradient at the consumer's one output, when both are one number."""
    if grad is None or len(outputs) != 1 or outputs[0] is None:
        return None
    flow, out = grad.values, outputs[0].values
    if flow is None or out is None or len(flow) != 1 or len(out) != 1 or out[0] == 0:
        return None
    return flow[0] / out[0]
