"""Walk an autograd graph from output tensors into a `Graph`.

The walk is iterative (breadth-first over a growing list, no recursion) and keeps a seen-map, so
a node shared by many paths is visited once and a chain of a million ops is no harder than a
chain of ten. It runs in two passes: one visits every autograd node and notes the edges, with
nothing else in the loop; the next describes each node with a `Node` record whose id is left
blank, where most ops share one record (their type's). The `Graph` gives each node its id when
its records are first read.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, is_not
from typing import Any, Final, TypeAlias, TypedDict

import torch

from ..errors import GradvizError, NoGraphError
from ..model import OP_SHAPES_UP_TO, Columns, Graph, Node, SavedTensor, TensorStats
from .modules import module_of
from .sources import SourceReader
from .stats import DTYPE_NAMES, Unread, dtype_name, shape_of, unread_note

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


DEEP_GRAPH: Final = 20_000
"""Past this many nodes, make room to free the graph later (see `_allow_deep_free`)."""


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
    unread = unread_note(walker.unread)
    return graph.replace(notes=graph.notes + unread) if unread else graph


def start_walk(
    outputs: Outputs, params: Mapping[str, torch.Tensor] | None, options: WalkOptions
) -> tuple[Graph, _Walker]:
    """`build_graph`, plus the walker: its `hookable` lists the autograd nodes met, its
    `leaf_grads` reads the ``.grad`` of the tensors met, after a backward, and its ``unread``
    says which gradients could not be summarised (the graph does not note them)."""
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
    walker = _Walker(params or {}, options)
    return walker.run(roots), walker


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


class _InputSlot:
    """Stands in the walk's node list for a forward input that needs no gradient."""

    next_functions: Final = ()


_INPUT_SLOT: Final = _InputSlot()


class _Walker:
    """One walk: visit every autograd node once, then describe each with a `Node` record
    whose id is blank; the `Graph` gives the nodes their ids when first read."""

    def __init__(self, params: Mapping[str, torch.Tensor], options: WalkOptions) -> None:
        self.params = params
        self.names = _names_by_id(params)
        self.options = options
        # Node index -> autograd node (``grad_fn``, a leaf's ``AccumulateGrad``, or
        # `_INPUT_SLOT`), in walk order; kept until the walk's owner is done with them.
        self.fns: list[Any] = []
        # (node index, tensor) for every node whose tensor can carry a .grad: see `leaf_grads`.
        self.tensors: list[tuple[int, torch.Tensor]] = []
        # (device, data_ptr) -> bytes of each storage a saved tensor keeps alive, counted once.
        self.storages: dict[tuple[str, int], int] = {}
        # Why each gradient the walk could not summarise was not: its owner notes it.
        self.unread = Unread()

    def hookable(self) -> list[tuple[int, Any]]:
        """(node index, autograd node) for each op and leaf met: where `record` hangs hooks."""
        return [(i, fn) for i, fn in enumerate(self.fns) if fn is not _INPUT_SLOT]

    def leaf_grads(self, given: Mapping[int, Any] | None = None) -> dict[int, TensorStats | None]:
        """Node index -> summary of the current ``.grad`` of each tensor the walk met that can
        carry one (leaves, and roots that retain grad), or of the gradient ``given`` for it
        (``id(tensor) -> gradient``: what ``torch.autograd.grad`` returned); then forget those
        tensors."""
        grads: dict[int, TensorStats | None] = {}
        for index, tensor in self.tensors:
            grad = tensor.grad if tensor.is_leaf or tensor.retains_grad else None
            if given and id(tensor) in given:
                grad = given[id(tensor)]
            grads[index] = None if grad is None else self.unread.summarize(grad, index)
        self.tensors.clear()
        return grads

    def run(self, roots: list[tuple[str | None, torch.Tensor]]) -> Graph:
        seeds = [_autograd_node(tensor) for _, tensor in roots]
        # The walk allocates a few objects per node and frees none: a garbage collection pass
        # in the middle would only traverse them (and torch's graph) again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            index, src, dst, slots = self._visit(seeds)
            records, edges, saved_bytes, notes = self._describe(index, roots, seeds)
        finally:
            if collecting:
                gc.enable()
        root_ids = tuple(dict.fromkeys(f"n{index[seed]}" for seed in seeds))
        if len(records) > DEEP_GRAPH:
            _allow_deep_free()
        del index  # the walker's `fns` keeps the autograd nodes for its owner
        columns = Columns(records, src, dst, slots, edges)
        return Graph.from_columns(columns, root_ids, notes, saved_bytes)

    def _visit(self, seeds: list[Any]) -> tuple[dict[Any, int], list[int], list[int], list[int]]:
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
                    add_fn(_INPUT_SLOT)
                    add_dst(consumer)
                    add_slot(slot)
                slot += 1
            consumer += 1
        return index, src, dst, slots

    def _describe(
        self,
        index: dict[Any, int],
        roots: list[tuple[str | None, torch.Tensor]],
        seeds: list[Any],
    ) -> tuple[list[Node], list[tuple[int, int]], int | None, tuple[str, ...]]:
        """Each node's record with a blank id, the saved-tensor edges, the bytes saved tensors
        hold, and the graph's notes."""
        fns, options = self.fns, self.options
        # Ops whose description is their type's alone share one record: that is most of them.
        # Looked up in C by map, and the rest found by `_positions`: 9% off build_graph on the
        # 100,000-op chain (71 -> 65 ms), which must stay within 2x the bare walk.
        try:
            records: list[Any] = list(map(_SHARED.__getitem__, map(type, fns)))
        except KeyError:  # types not met before: learn each from one of its nodes, then map
            types = list(map(type, fns))
            for kind_type in set(types).difference(_SHARED):
                _learn(kind_type, fns[types.index(kind_type)])
            records = list(map(_SHARED.__getitem__, types))
        # The rest: leaves, inputs, ops that name themselves.
        leaves: list[int] = []
        named = 0  # leaves named by params
        for i in _positions(records, None):
            fn = fns[i]
            if fn is _INPUT_SLOT:
                records[i] = _INPUT
            elif type(fn) in _LEAF_TYPES:
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
        saved_edges: list[tuple[int, int]] = []
        if op_shapes:
            self._op_shapes(records)
        if (
            options.get("source")
            or options.get("modules")
            or options.get("show_saved")
            or options.get("show_attrs")
        ):
            self._per_op(records, saved_edges)
        if named < len(self.names):  # some params are not leaves here: intermediate tensors?
            for fn, name in _op_names(self.params).items():
                i = index.get(fn, -1)
                if i >= 0:
                    records[i] = records[i]._replace(name=name)
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
        if options.get("modules"):
            _place_leaves(records)
        saved_bytes = sum(self.storages.values()) if options.get("show_saved") else None
        return records, saved_edges, saved_bytes, notes

    def _leaves(self, records: list[Node], at: list[int]) -> int:
        """Describe the leaves at node indices ``at``; leaves of one shape share one shape
        tuple. Returns how many have a name."""
        tensors = list(map(_VARIABLE, map(self.fns.__getitem__, at)))
        names = list(map(self.names.get, map(id, tensors)))
        self.tensors.extend(zip(at, tensors, strict=True))
        grads: list[Any] = list(map(_GRAD_OF, tensors))
        if any(map(is_not, grads, repeat(None))):
            summary = self.unread.summarize
            grads = [None if g is None else summary(g, i) for g, i in zip(grads, at, strict=True)]
        shapes: Iterable[tuple[int, ...] | None]
        try:
            shapes = list(map(_Shapes().__getitem__, map(_SHAPE, tensors)))
        except RuntimeError:  # a strided nested tensor has no .shape
            shapes = map(shape_of, tensors)
        leaf_records = _records(
            kind=repeat("leaf"),
            op=repeat("AccumulateGrad"),
            name=names,
            is_leaf=repeat(True),
            requires_grad=map(_REQUIRES_GRAD, tensors),
            shape=shapes,
            dtype=map(DTYPE_NAMES.__getitem__, map(_DTYPE, tensors)),
            grad=grads,
        )
        for i, record in zip(at, leaf_records, strict=True):
            records[i] = record
        return len(names) - names.count(None)

    def _op_shapes(self, records: list[Node]) -> None:
        """Add each op's output shape and dtype. Until now an op's record is its name's, so ops
        of one name, shape and dtype still share one record. Each op's metadata is read and
        dropped in turn: holding them all costs more (in memory touched) than a Python loop
        saves."""
        fns = self.fns
        dtype_names = DTYPE_NAMES
        for i, record in enumerate(records):
            if record.kind != "op":
                continue
            try:  # private API: `_input_metadata` describes the op's forward outputs
                meta = fns[i]._input_metadata
                if len(meta) != 1:  # several outputs: no one shape
                    continue
                shape, dtype = _SHAPE_AND_DTYPE(meta[0])  # shape: a list here
            except (AttributeError, RuntimeError, TypeError):  # nested or symbolic: unknown
                continue
            records[i] = _shaped_op(record.op, tuple(shape), dtype_names[dtype])

    def _per_op(self, records: list[Node], saved_edges: list[tuple[int, int]]) -> None:
        """Read what each op says of itself: call site, module, saved values."""
        options = self.options
        read_source = SourceReader() if options.get("source") else None
        modules = options.get("modules", False)
        show_saved = options.get("show_saved", False)
        show_attrs = options.get("show_attrs", False)
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
                saved, attrs = _saved_values(fn, tensors=show_saved)
                saved_info = tuple(self._saved_info(name, tensor) for name, tensor in saved)
                for name, tensor in saved:
                    saved_edges.append((len(records), i))
                    records.append(_saved_record(name, tensor))
            records[i] = record._replace(
                attrs=attrs, source=source, saved=saved_info, module=module
            )

    def _saved_info(self, name: str, tensor: torch.Tensor | None) -> SavedTensor:
        if tensor is None:
            return SavedTensor(name, None, None, None, freed=True)
        try:
            storage = tensor.untyped_storage()
            nbytes = storage.nbytes()
            self.storages[(str(tensor.device), storage.data_ptr())] = nbytes
        except (RuntimeError, NotImplementedError):  # sparse, nested or meta tensors
            nbytes = tensor.numel() * tensor.element_size()
        return SavedTensor(name, shape_of(tensor), dtype_name(tensor.dtype), nbytes, freed=False)


def _saved_record(name: str, tensor: torch.Tensor | None) -> Node:
    """The record of a tensor an op saved (None: freed by backward), with a blank id."""
    if tensor is None:
        return Node("", "saved", name=name, requires_grad=False, freed=True)
    return Node(
        "",
        "saved",
        name=name,
        requires_grad=tensor.requires_grad,
        shape=shape_of(tensor),
        dtype=dtype_name(tensor.dtype),
    )


def _place_leaves(records: list[Node]) -> None:
    """Put each leaf named like a parameter (``model.0.weight``) into the innermost module
    on its path in which ops ran (``model.0``, else ``model``)."""
    paths = {record.module for record in records if record.module}
    for i, record in enumerate(records):
        if record.kind != "leaf" or not record.name:
            continue
        owner = record.name
        while "." in owner:
            owner = owner.rsplit(".", 1)[0]
            if owner in paths:
                records[i] = record._replace(module=owner)
                break


def _records(**columns: Iterable[Any]) -> Iterator[Node]:
    """Records with a blank id, one per item of the ``columns``, each given by field name; the
    other fields take their defaults. Made in C by map and zip, half of what calling `Node` per
    record costs (10,000 leaves: 6 ms less, a sixth of the wide graph's `build_graph`)."""
    unknown = columns.keys() - set(Node._fields)
    if unknown:
        raise TypeError(f"Node has no field {sorted(unknown)[0]!r}")
    fields = [
        columns[name] if name in columns else repeat(_DEFAULTS[name]) for name in Node._fields
    ]
    return map(_NEW, repeat(Node), zip(*fields, strict=False))  # the repeats are endless


_DEFAULTS: Final = {"id": "", **Node._field_defaults}  # "kind" has none: always given
_NEW: Final[Any] = tuple.__new__  # map(_NEW, repeat(Node), tuples): records made in C


def _positions(items: list[Any], value: object) -> Iterator[int]:
    """The positions of ``value`` in ``items``, each found by `list.index` (in C)."""
    i = -1
    try:
        while True:
            i = items.index(value, i + 1)
            yield i
    except ValueError:
        return


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


_INPUT: Final = Node("", "input", requires_grad=False)
"""The record of every forward input that needs no gradient."""

_LEAF_TYPES: set[type] = set()
"""The Python types of ``AccumulateGrad`` nodes met so far."""
_SHARED: dict[type, Node | None] = {}
"""Python type -> the record every node of that type shares (an op whose name is its type's),
or None: a leaf, an input slot, or a wrapper type shared by ops of several names."""


def _learn(kind_type: type, example: Any) -> None:
    """Fill `_SHARED` (and `_LEAF_TYPES`) for ``kind_type``, from a node of that type."""
    record: Node | None = None
    if example is _INPUT_SLOT:
        pass
    elif hasattr(example, "variable"):
        _LEAF_TYPES.add(kind_type)
    else:
        name = example.name()
        # one Python class per generated backward function; a shared wrapper class asks each
        if kind_type.__name__ == name:
            record = Node("", "op", op=name)
    _SHARED[kind_type] = record


class _Shapes(dict[Any, tuple[int, ...] | None]):
    """``torch.Size`` -> an equal tuple (None when a size is symbolic), one per distinct shape."""

    def __missing__(self, size: Any) -> tuple[int, ...] | None:
        shape = self[size] = _plain(tuple(size))
        return shape


@lru_cache(maxsize=4096)
def _shaped_op(name: str | None, shape: tuple[Any, ...], dtype: str) -> Node:
    """The record of an op of this name, output shape and dtype name: one per distinct three,
    kept across walks, like `_SHARED`: a model's graphs meet the same few each time."""
    return Node("", "op", op=name, shape=_plain(shape), dtype=dtype)


def _plain(shape: tuple[Any, ...]) -> tuple[int, ...] | None:
    """``shape``, or None when a size is symbolic: the ragged dimension of a nested tensor."""
    return shape if all(type(n) is int for n in shape) else None


_VARIABLE: Final = attrgetter("variable")
_GRAD_OF: Final = attrgetter("grad")
_REQUIRES_GRAD: Final = attrgetter("requires_grad")
_DTYPE: Final = attrgetter("dtype")
_SHAPE: Final = attrgetter("shape")
_SHAPE_AND_DTYPE: Final = attrgetter("shape", "dtype")


def _saved_values(
    fn: Any, *, tensors: bool
) -> tuple[list[tuple[str, torch.Tensor | None]], tuple[tuple[str, str], ...]]:
    """Saved tensors (None when freed) and non-tensor saved attributes of ``fn``.

    Reads the private ``_saved_<name>`` attributes; an attribute with a ``_raw_saved_<name>``
    twin holds a tensor, which backward frees (reading it then raises RuntimeError).
    """
    saved: list[tuple[str, torch.Tensor | None]] = []
    attrs: list[tuple[str, str]] = []
    names = [a for a in dir(fn) if a.startswith("_saved_")]
    raw = {a[len("_raw_saved_") :] for a in dir(fn) if a.startswith("_raw_saved_")}
    if hasattr(fn, "_forward_cls") and tensors:  # custom autograd.Function
        names, raw = ["saved_tensors"], {"saved_tensors"}
    for attr in names:
        name = attr.removeprefix("_saved_")
        if name in raw:
            if not tensors:
                continue
            try:
                value = getattr(fn, attr)
            except RuntimeError:
                saved.append((name, None))
                continue
            if isinstance(value, torch.Tensor):
                saved.append((name, value))
            elif isinstance(value, (tuple, list)):
                saved.extend(
                    (f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, torch.Tensor)
                )
            continue
        try:
            value = getattr(fn, attr)
        except RuntimeError:
            continue
        if isinstance(value, torch.Tensor):
            if tensors:
                saved.append((name, value))
        elif isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
            if tensors:
                saved.extend((f"{name}[{i}]", v) for i, v in enumerate(value))
        else:
            attrs.append((name, _short(value)))
    return saved, tuple(attrs)


def _short(value: object, limit: int = 80) -> str:
    text = str(value) if isinstance(value, torch.dtype) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
