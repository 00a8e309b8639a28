"""One walk of an autograd graph (see `walk`): a first pass numbers every autograd node and
notes the edges, with nothing else in the loop; a second describes each node with a `Node`
record whose id is blank (`describe`), then reads what the options ask of each op (call site,
module, saved values: `saved`). The `Walker` keeps the autograd nodes and the tensors it met,
for `record` to hang hooks on them and read their ``.grad`` after backward.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from itertools import repeat
from operator import attrgetter, is_not
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import torch

from ..model import OP_SHAPES_UP_TO, Columns, Graph, Node, SavedEdge, SavedTensor, TensorStats
from ..ranks import Rank
from .describe import (
    INPUT,
    INPUT_SLOT,
    LEAF_TYPES,
    add_op_shapes,
    leaf_records,
    place_leaves,
    positions,
    shared_records,
)
from .distributed import FSDP_NODES, SHARD_ATTR, fsdp_note, gathered_params, local
from .modules import module_of
from .regions import Region, Unopened
from .saved import SavedSizes, input_records, saved_record, saved_values
from .sources import SourceReader
from .stats import Unread

if TYPE_CHECKING:
    from .walk import WalkOptions

__all__ = ["DEEP_GRAPH", "Walker"]

DEEP_GRAPH: Final = 20_000
"""Past this many nodes, make room to free the graph later (see `_allow_deep_free`)."""


def _has_grad_fn(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` has a ``grad_fn``; False where torch refuses to say (an output of
    ``split`` whose base was changed in place): such a tensor names nothing."""
    try:
        return tensor.grad_fn is not None
    except RuntimeError:
        return False


def _names_by_id(params: Mapping[str, object]) -> dict[int, str]:
    """The name of each value in ``params``, by its id; the first name given for a value wins.
    Ids, not tensors: nothing here reads a tensor, and a leaf met in the walk is found by its
    id (a live object's id is its own)."""
    names = dict(zip(map(id, params.values()), params, strict=True))
    if len(names) < len(params):  # a value comes twice: write its first name last
        values, keys = list(params.values()), list(params)
        names = dict(zip(map(id, values[::-1]), keys[::-1], strict=True))
    return names


def _op_names(params: Mapping[str, object]) -> dict[Any, str]:
    """The names in ``params`` of intermediate tensors, by their ``grad_fn``; the first wins."""
    op_names: dict[Any, str] = {}
    for name, value in params.items():
        if isinstance(value, torch.Tensor) and _has_grad_fn(value):
            op_names.setdefault(value.grad_fn, name)
    return op_names


class Walker:
    """One walk: visit every autograd node once, then describe each with a `Node` record
    whose id is blank; the `Graph` gives the nodes their ids when first read."""

    def __init__(
        self, params: Mapping[str, torch.Tensor], options: WalkOptions, *, read_grads: bool = True
    ) -> None:
        self.params, self.read_grads = params, read_grads  # read_grads: see `walk.start_walk`
        self.names = _names_by_id(params)
        # FSDP2's gathered parameters (the leaves its graphs reach) -> the user's parameters:
        # named as those, with the gradient those received.
        self.shards = gathered_params()
        for key, param in self.shards.items():
            if id(param) in self.names:
                self.names[key] = self.names[id(param)]
        self.options = options
        # Node index -> autograd node (``grad_fn``, a leaf's ``AccumulateGrad``, or
        # `describe.INPUT_SLOT`), in walk order; kept until the walk's owner is done with them.
        self.fns: list[Any] = []
        # (node index, tensor) for every node whose tensor can carry a .grad: see `leaf_grads`.
        self.tensors: list[tuple[int, torch.Tensor]] = []
        # The bytes saved tensors keep alive.
        self.saved_sizes = SavedSizes()
        # Why each gradient the walk could not summarise was not: its owner notes it.
        self.unread = Unread()
        # Node index -> the compiled region behind it (`regions.find`), set by `walk`.
        self.regions: dict[int, Region | Unopened] = {}

    def hookable(self) -> list[tuple[int, Any]]:
        """(node index, autograd node) for each op and leaf met: where `record` hangs hooks."""
        return [(i, fn) for i, fn in enumerate(self.fns) if fn is not INPUT_SLOT]

    def leaf_grads(
        self, given: Mapping[int, Any], read: Callable[[int, Any], TensorStats | None]
    ) -> dict[int, TensorStats | None]:
        """Node index -> summary of the current ``.grad`` of each tensor the walk met that can
        carry one (leaves, and roots that retain grad), or of the gradient ``given`` for it
        (``id(tensor) -> gradient``: what ``torch.autograd.grad`` returned), unless ``read``
        has it (`GradHooks.leaf_grad`); then forget those tensors."""
        grads: dict[int, TensorStats | None] = {}
        for index, tensor in self.tensors:
            grad = tensor.grad if tensor.is_leaf or tensor.retains_grad else None
            grad = given.get(id(tensor), grad)
            if grad is None:
                grads[index] = None
                continue
            shard = local(grad)
            known = read(index, grad) if shard is grad else None
            grads[index] = known if known is not None else self.unread.summarize(shard, index)
        self.tensors.clear()
        return grads

    def indices_of(self, ids: Mapping[int, Any]) -> frozenset[int]:
        """The node indices of the tensors met whose ids are keys of ``ids``."""
        return frozenset(index for index, tensor in self.tensors if id(tensor) in ids)

    def run(self, roots: list[tuple[str | None, torch.Tensor]]) -> Graph:
        seeds = [_autograd_node(tensor) for _, tensor in roots]
        # The walk allocates a few objects per node and frees none: a garbage collection pass
        # in the middle would only traverse them (and torch's graph) again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            visited = self._visit(seeds)
            described = self._describe(visited.numbers, roots, seeds)
        finally:
            if collecting:
                gc.enable()
        root_ids = tuple(dict.fromkeys(f"n{visited.numbers[seed]}" for seed in seeds))
        records = described.records
        if self.options.get("show_inputs", False):
            self._describe_inputs(records, visited)
        if len(records) > DEEP_GRAPH:
            _allow_deep_free()
        columns = Columns(records, visited.src, visited.dst, visited.slots, described.saved)
        del visited  # its index; the walker's `fns` keeps the autograd nodes for its owner
        return Graph.from_columns(columns, root_ids, described.notes, described.saved_bytes)

    def _visit(self, seeds: list[Any]) -> _Visited:
        """Number every autograd node reachable from ``seeds`` in breadth-first order, and list
        each edge as (input index, consumer index, slot). The hot loop of every walk."""
        fns = self.fns
        index: dict[Any, int] = {}
        for seed in seeds:
            if seed not in index:
                index[seed] = len(fns)
                fns.append(seed)
        src: list[int] = []
        dst: list[int] = []
        slots: list[int] = []
        # Bound methods in locals: about 15% off build_graph on the 100,000-op chain.
        get, add_fn = index.get, fns.append
        add_src, add_dst, add_slot = src.append, dst.append, slots.append
        show_inputs = self.options.get("show_inputs", False)
        consumer = 0
        for fn in fns:  # a queue: the list grows while we go through it
            slot = 0
            for child, _ in fn.next_functions:
                if child is not None:
                    j = get(child)
                    if j is None:
                        j = index[child] = len(fns)
                        add_fn(child)
                    add_src(j)
                    add_dst(consumer)
                    add_slot(slot)
                elif show_inputs:
                    add_src(len(fns))
                    add_fn(INPUT_SLOT)
                    add_dst(consumer)
                    add_slot(slot)
                slot += 1
            consumer += 1
        return _Visited(index, src, dst, slots)

    def _describe(
        self,
        index: dict[Any, int],
        roots: list[tuple[str | None, torch.Tensor]],
        seeds: list[Any],
    ) -> _Described:
        """Each node's record with a blank id, the saved-tensor edges, the bytes saved tensors
        hold, and the graph's notes."""
        fns, options = self.fns, self.options
        # Ops whose description is their type's alone share one record: that is most of them.
        records: list[Any] = shared_records(fns)
        # The rest: leaves, inputs, ops that name themselves.
        leaves: list[int] = []
        named = 0  # leaves named by params
        for i in positions(records, None):
            fn = fns[i]
            if fn is INPUT_SLOT:
                records[i] = INPUT
            elif type(fn) in LEAF_TYPES:
                leaves.append(i)
            else:
                records[i] = Node("", "op", op=fn.name())
        if leaves:
            named = self._leaves(records, leaves)
        notes: tuple[str, ...] = ()
        op_shapes = options.get("op_shapes")
        if op_shapes is None:
            op_shapes = len(records) <= OP_SHAPES_UP_TO
            if not op_shapes:
                notes = (
                    f"op output shapes not read: more than {OP_SHAPES_UP_TO:,} nodes "
                    "(op_shapes=True, or --op-shapes, reads them)",
                )
        saved_edges: list[SavedEdge] = []
        if op_shapes:
            add_op_shapes(records, fns)
        if any(options.get(name) for name in ("source", "modules", "show_saved", "show_attrs")):
            self._per_op(records, saved_edges)
        if named < len(self.names):  # some params are not leaves here: intermediate tensors?
            for fn, name in _op_names(self.params).items():
                i = index.get(fn, -1)
                if i >= 0:
                    records[i] = records[i]._replace(name=name)
        self._name_roots(records, index, roots, seeds)
        notes += self._distributed(records, leaves)
        if options.get("modules"):
            place_leaves(records)
        saved_bytes = self.saved_sizes.total() if options.get("show_saved") else None
        return _Described(records, saved_edges, saved_bytes, notes)

    def _describe_inputs(self, records: list[Node], visited: _Visited) -> None:
        """Name each input that needs no gradient, with its shape and dtype, where its
        consumer saved it (`saved.input_records`)."""
        fns = self.fns
        slots: dict[int, list[tuple[int, int]]] = {}  # consumer -> (slot, input node index)
        for src, dst, slot in zip(visited.src, visited.dst, visited.slots, strict=True):
            if fns[src] is INPUT_SLOT:
                slots.setdefault(dst, []).append((slot, src))
        for consumer, inputs in slots.items():
            found = input_records(fns[consumer], [slot for slot, _ in inputs], self.names)
            for slot, i in inputs:
                records[i] = found.get(slot, records[i])

    def _name_roots(
        self,
        records: list[Node],
        index: dict[Any, int],
        roots: list[tuple[str | None, torch.Tensor]],
        seeds: list[Any],
    ) -> None:
        """Name the roots given by a dict key, and note the roots that retain their grad."""
        for (key, tensor), seed in zip(roots, seeds, strict=True):
            i = index[seed]
            record = records[i]
            if key is not None:  # a dict key names its root unless params already did
                record = record._replace(name=f"{record.name}, {key}" if record.name else key)
            if record.kind == "op" and tensor.retains_grad and not record.retains_grad:
                self.tensors.append((i, tensor))
                record = record._replace(retains_grad=True)
                grad = tensor.grad
                if grad is not None:
                    record = record._replace(grad=self.unread.summarize(grad, i))
            records[i] = record

    def _leaves(self, records: list[Node], at: list[int]) -> int:
        """Describe the leaves at node indices ``at``. Returns how many have a name."""
        tensors = list(map(_VARIABLE, map(self.fns.__getitem__, at)))
        names = list(map(self.names.get, map(id, tensors)))
        # The gradient of a parameter FSDP2 gathered is its user's parameter's, sharded.
        owners = [self.shards.get(id(t), t) for t in tensors] if self.shards else tensors
        self.tensors.extend(zip(at, owners, strict=True))
        grads: list[Any] = list(map(_GRAD_OF, owners)) if self.read_grads else [None] * len(at)
        if any(map(is_not, grads, repeat(None))):
            summary = self.unread.summarize
            grads = [
                None if g is None else summary(local(g), i) for g, i in zip(grads, at, strict=True)
            ]
        for i, record in zip(at, leaf_records(tensors, names, grads), strict=True):
            records[i] = record
        return len(names) - names.count(None)

    def _distributed(self, records: list[Node], leaves: list[int]) -> tuple[str, ...]:
        """Name FSDP2's own nodes as its, each with what it does; the note for a graph whose
        leaves FSDP2 gathered."""
        notes: list[str] = []
        gathered = [i for i in leaves if id(self.fns[i].variable) in self.shards]
        for i in gathered:
            records[i] = records[i]._replace(attrs=(*records[i].attrs, SHARD_ATTR))
        if gathered:
            notes.append(fsdp_note(Rank.from_env()))
        for i, record in enumerate(records):
            own = FSDP_NODES.get(record.op or "") if record.kind == "op" else None
            if own is not None:
                attrs = (*record.attrs, ("does", own.does))
                records[i] = record._replace(name=own.name, attrs=attrs)
                note = f"{own.name}: {own.does}"
                if note not in notes:
                    notes.append(note)
        return tuple(notes)

    def _per_op(self, records: list[Node], saved_edges: list[SavedEdge]) -> None:
        """Read what each op says of itself: call site, module, saved values."""
        options = self.options
        read_source = SourceReader() if options.get("source") else None
        modules = options.get("modules", False)
        show_saved = options.get("show_saved", False)
        show_attrs = options.get("show_attrs", False)
        describe_saved = self.saved_sizes.describe
        fns = self.fns
        for i in range(len(fns)):
            record = records[i]
            if record.kind != "op":
                continue
            fn = fns[i]
            source = read_source(fn) if read_source is not None else None
            module = module_of(fn) if modules else None
            attrs: tuple[tuple[str, str], ...] = ()
            saved_info: tuple[SavedTensor, ...] = ()
            if show_saved or show_attrs:
                saved, attrs = saved_values(fn, tensors=show_saved)
                saved_info = tuple(describe_saved(name, tensor) for name, tensor in saved)
                for name, tensor in saved:
                    saved_edges.append(SavedEdge(len(records), i))
                    records.append(saved_record(name, tensor))
            records[i] = record._replace(
                attrs=attrs, source=source, saved=saved_info, module=module
            )


class _Visited(NamedTuple):
    """What the walk's first pass found."""

    numbers: dict[Any, int]
    """Autograd node -> its node index."""
    src: list[int]
    """Data edge ``k`` goes from node ``src[k]`` ..."""
    dst: list[int]
    """... into node ``dst[k]`` ..."""
    slots: list[int]
    """... at its input slot ``slots[k]``."""


class _Described(NamedTuple):
    """What the walk's second pass found."""

    records: list[Node]
    """Each node's record with a blank id, saved tensors last."""
    saved: list[SavedEdge]
    """Saved edges: a saved tensor's node, into its op's."""
    saved_bytes: int | None
    notes: tuple[str, ...]


_VARIABLE: Final = attrgetter("variable")
_GRAD_OF: Final = attrgetter("grad")


def _autograd_node(tensor: torch.Tensor) -> Any:
    """The autograd node a walk starts from for ``tensor``: its ``grad_fn``, or for a leaf
    that requires grad, its ``AccumulateGrad`` (so a leaf given as an output and met again
    inside the graph is one node)."""
    fn = tensor.grad_fn
    if fn is not None:
        return fn
    edge = getattr(torch.autograd.graph, "get_gradient_edge", None)
    if edge is not None:
        return edge(tensor).node
    with torch.enable_grad():  # torch 2.1: reach the accumulator through a throwaway view
        view: Any = tensor.view_as(tensor).grad_fn
        return view.next_functions[0][0]


def _allow_deep_free() -> None:
    """Let the main thread's C stack grow, so freeing a deep graph later does not overflow it.

    PyTorch frees a graph whose nodes Python has touched by recursing once per node in C++; past
    ~40k nodes that overflows the default 8 MiB stack and the process dies with SIGSEGV. The main
    thread's stack grows on demand up to the soft RLIMIT_STACK, so raising it (never lowering it)
    is enough. Threads other than the main one keep their fixed stacks.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    want = 1 << 30
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
