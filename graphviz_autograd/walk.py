"""Walk an autograd graph from output tensors into a `Graph`.

The walk is iterative (an explicit stack, no recursion) and keeps a seen-map, so a node shared by
many paths is visited once and a chain of a million ops is no harder than a chain of ten.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias, TypedDict

import torch

from .errors import GradvizError, NoGraphError
from .model import Edge, Graph, Node, SavedTensor, TensorStats
from .modules import module_of
from .sources import SourceReader
from .stats import dtype_name, summarize

__all__ = ["Outputs", "WalkOptions", "build_graph", "named_outputs", "start_walk"]

Outputs: TypeAlias = torch.Tensor | Sequence[torch.Tensor] | Mapping[str, torch.Tensor]
"""A tensor, a tuple/list of tensors, or a dict of named tensors."""


class WalkOptions(TypedDict, total=False):
    """The switches of `build_graph` (and `capture`), as one value to pass along."""

    show_saved: bool
    show_attrs: bool
    show_inputs: bool
    source: bool
    modules: bool


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
    }
    return start_walk(outputs, params, options)[0]


def start_walk(
    outputs: Outputs, params: Mapping[str, torch.Tensor] | None, options: WalkOptions
) -> tuple[Graph, _Walker]:
    """`build_graph`, plus the walker, whose `leaf_grads` reads the ``.grad`` of the tensors
    met after a backward."""
    roots = named_outputs(outputs)
    for name, tensor in roots:
        if tensor.grad_fn is None and not tensor.requires_grad:
            what = f"output {name!r}" if name is not None else "the output tensor"
            raise NoGraphError(
                f"{what} has no autograd graph: it has no grad_fn and does not require grad "
                "(it was made under torch.no_grad() or inference_mode, from .detach() or .data, "
                "or only from tensors that do not require grad)"
            )
    # Leaves are found by tensor, ops by grad_fn; the first name given for either wins.
    names: dict[int, str] = {}
    fns: list[object] = []  # keep each named grad_fn alive, so its id() stays its own
    for name, tensor in (params or {}).items():
        if isinstance(tensor, torch.Tensor):
            fn = tensor.grad_fn
            if fn is not None:
                fns.append(fn)
            names.setdefault(id(tensor) if fn is None else id(fn), name)
    walker = _Walker(names, options)
    walker.held.extend(fns)
    return walker.run(roots), walker


class _Walker:
    """One walk: the stack, the seen-map and the nodes and edges found so far."""

    def __init__(self, names: dict[int, str], options: WalkOptions) -> None:
        self.names = names
        self.source = SourceReader() if options.get("source") else None
        self.modules = options.get("modules", False)
        # (device, data_ptr) -> bytes of each storage a saved tensor keeps alive, counted once.
        self.storages: dict[tuple[str, int], int] = {}
        self.show_inputs = options.get("show_inputs", False)
        self.show_saved = options.get("show_saved", False)
        self.show_attrs = options.get("show_attrs", False)
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        # id(autograd node or leaf tensor) -> node index. `held` keeps each object alive for the
        # walk, so no id() is reused by a newly made wrapper while we still look it up.
        self.seen: dict[int, int] = {}
        self.held: list[object] = []
        # (node index, tensor) for every node whose tensor can carry a .grad: see `leaf_grads`.
        self.tensors: list[tuple[int, torch.Tensor]] = []
        # (node index, autograd node) for every op and leaf: where `record` hangs its hooks.
        self.fns: list[tuple[int, Any]] = []

    def run(self, roots: list[tuple[str | None, torch.Tensor]]) -> Graph:
        # Stack items: (grad_fn or leaf tensor or None, consumer index or -1, slot).
        stack: list[tuple[Any, int, int]] = []
        root_tensors: dict[int, torch.Tensor] = {}
        for _, tensor in reversed(roots):
            obj = tensor if tensor.grad_fn is None else tensor.grad_fn
            stack.append((obj, -1, 0))
            root_tensors[id(obj)] = tensor
        # The walk allocates a few objects per node and frees none: a garbage collection pass
        # in the middle would only traverse them (and torch's graph) again.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._drain(stack, root_tensors)
        finally:
            if collecting:
                gc.enable()
        root_ids: list[str] = []
        for name, tensor in roots:
            fn: Any = tensor.grad_fn
            key = id(tensor) if fn is None else id(fn.variable) if _is_accumulate(fn) else id(fn)
            index = self.seen[key]
            node = self.nodes[index]
            if name is not None:  # a dict key names its root unless params already did
                self.nodes[index] = node._replace(
                    name=f"{node.name}, {name}" if node.name else name
                )
            if node.id not in root_ids:
                root_ids.append(node.id)
        if self.modules:
            self._place_leaves()
        if len(self.nodes) > DEEP_GRAPH:
            _allow_deep_free()
        self.held.clear()
        saved_bytes = sum(self.storages.values()) if self.show_saved else None
        return Graph(tuple(self.nodes), tuple(self.edges), tuple(root_ids), saved_bytes=saved_bytes)

    def _place_leaves(self) -> None:
        """Put each leaf named like a parameter (``model.0.weight``) into the innermost module
        on its path in which ops ran (``model.0``, else ``model``)."""
        paths = {n.module for n in self.nodes if n.module}
        for i, node in enumerate(self.nodes):
            if node.kind != "leaf" or not node.name:
                continue
            owner = node.name
            while "." in owner:
                owner = owner.rsplit(".", 1)[0]
                if owner in paths:
                    self.nodes[i] = node._replace(module=owner)
                    break

    def leaf_grads(self) -> dict[int, TensorStats | None]:
        """Node index -> summary of the current ``.grad`` of each tensor the walk met that can
        carry one (leaves, and roots that retain grad); then forget those tensors."""
        grads: dict[int, TensorStats | None] = {}
        for index, tensor in self.tensors:
            grad = tensor.grad if tensor.is_leaf or tensor.retains_grad else None
            grads[index] = None if grad is None else summarize(grad)
        self.tensors.clear()
        return grads

    def _drain(self, stack: list[tuple[Any, int, int]], root_tensors: dict[int, Any]) -> None:
        # The hot loop of every walk: locals only, one tuple per node and per edge.
        nodes, edges, seen, held, fns = self.nodes, self.edges, self.seen, self.held, self.fns
        names, tensors, kinds = self.names, self.tensors, _KINDS
        plain_ops = not (self.show_saved or self.show_attrs)
        read_source, modules = self.source, self.modules
        show_inputs = self.show_inputs
        pop, push = stack.pop, stack.append
        make_node, make_edge = Node._make, Edge._make
        while stack:
            obj, consumer, slot = pop()
            if obj is None:  # a forward input that needs no gradient
                index = len(nodes)
                nodes.append(make_node((f"n{index}", "input", *_INPUT)))
            else:
                key = id(obj)
                index = seen.get(key, -1)
                if index < 0:
                    kind = kinds.get(type(obj))
                    if kind is None:
                        kind = _kind_of(obj)
                    leaf = None
                    if kind is _LEAF:  # a leaf's AccumulateGrad: fold in `.variable`
                        leaf = obj.variable
                        key = id(leaf)
                        index = seen.get(key, -1)
                        if index >= 0:  # met before as a root tensor
                            seen[id(obj)] = index
                            fns.append((index, obj))
                            held.append(obj)
                    elif kind is _TENSOR:  # a leaf given as a root
                        leaf = obj
                if index < 0:
                    index = len(nodes)
                    seen[key] = index
                    held.append(obj)
                    node_id = f"n{index}"
                    if leaf is not None:
                        if kind is _LEAF:
                            fns.append((index, obj))
                            seen[id(obj)] = index
                        held.append(leaf)
                        tensors.append((index, leaf))
                        nodes.append(self._leaf(node_id, leaf))
                    else:
                        fns.append((index, obj))
                        root = root_tensors.get(key)
                        if plain_ops and root is None:
                            shape, dtype = _output_meta(obj)
                            op = kind if isinstance(kind, str) else obj.name()
                            values = (node_id, "op", op, names.get(key), *_OP, shape, dtype)
                            if read_source is None and not modules:
                                nodes.append(make_node(values + _AFTER_DTYPE))
                            else:
                                source = read_source(obj) if read_source is not None else None
                                module = module_of(obj) if modules else None
                                rest = (None, (), False, None, None, 1, source, (), module)
                                nodes.append(make_node(values + rest))
                        else:
                            if root is not None and root.retains_grad:
                                tensors.append((index, root))
                            self._op(node_id, obj, root)
                        nexts = obj.next_functions
                        for i in range(len(nexts) - 1, -1, -1):
                            child = nexts[i][0]
                            if child is not None or show_inputs:
                                push((child, index, i))
            if consumer >= 0:
                edges.append(make_edge((nodes[index][0], nodes[consumer][0], slot, "data")))

    def _leaf(self, node_id: str, tensor: torch.Tensor) -> Node:
        grad = tensor.grad
        return Node._make(
            (
                node_id,
                "leaf",
                "AccumulateGrad",
                self.names.get(id(tensor)),
                True,
                tensor.requires_grad,
                False,
                tuple(tensor.shape),
                dtype_name(tensor.dtype),
                None if grad is None else summarize(grad),
                *_AFTER_GRAD,
            ),
        )

    def _op(self, node_id: str, fn: Any, root: torch.Tensor | None) -> None:
        """Append the node of op ``fn``, then the nodes of its saved tensors (``show_saved``)."""
        shape, dtype = _output_meta(fn)
        retains = root is not None and root.retains_grad
        attrs: tuple[tuple[str, str], ...] = ()
        saved: list[tuple[str, torch.Tensor | None]] = []
        if self.show_attrs or self.show_saved:
            saved, attrs = _saved_values(fn, tensors=self.show_saved)
        self.nodes.append(
            Node(
                id=node_id,
                kind="op",
                op=fn.name(),
                name=self.names.get(id(fn)),
                retains_grad=retains,
                shape=shape,
                dtype=dtype,
                grad=summarize(root.grad) if retains and root.grad is not None else None,  # type: ignore[union-attr]
                attrs=attrs if self.show_attrs else (),
                source=self.source(fn) if self.source is not None else None,
                module=module_of(fn) if self.modules else None,
                saved=tuple(self._describe(name, tensor) for name, tensor in saved),
            )
        )
        # Saved tensors are numbered right after their owner, before its inputs.
        for name, tensor in saved:
            self.nodes.append(_saved_node(f"n{len(self.nodes)}", name, tensor))
            self.edges.append(Edge(self.nodes[-1].id, node_id, None, "saved"))

    def _describe(self, name: str, tensor: torch.Tensor | None) -> SavedTensor:
        if tensor is None:
            return SavedTensor(name, None, None, None, freed=True)
        try:
            storage = tensor.untyped_storage()
            nbytes = storage.nbytes()
            self.storages[(str(tensor.device), storage.data_ptr())] = nbytes
        except (RuntimeError, NotImplementedError):  # sparse, nested or meta tensors
            nbytes = tensor.numel() * tensor.element_size()
        return SavedTensor(name, tuple(tensor.shape), dtype_name(tensor.dtype), nbytes, freed=False)


def _saved_node(node_id: str, name: str, tensor: torch.Tensor | None) -> Node:
    return Node(
        id=node_id,
        kind="saved",
        name=name,
        requires_grad=False if tensor is None else tensor.requires_grad,
        shape=None if tensor is None else tuple(tensor.shape),
        dtype=None if tensor is None else dtype_name(tensor.dtype),
        freed=tensor is None,
    )


def _is_accumulate(fn: Any) -> bool:
    return hasattr(fn, "variable")


# `Node` field values by position, for building nodes as tuples in the hot loop:
# id, kind, op, name, is_leaf, requires_grad, retains_grad, shape, dtype, then these.
_AFTER_GRAD: Final = ((), False, None, None, 1, None, (), None)  # attrs, freed, ... module
_AFTER_DTYPE: Final = (None, *_AFTER_GRAD)  # grad, attrs, ... module
_OP: Final = (False, True, False)  # is_leaf, requires_grad, retains_grad of an op
_INPUT: Final = (None, None, False, False, False, None, None, *_AFTER_DTYPE)  # op ... module

_LEAF: Final = object()
"""`_KINDS` value of ``AccumulateGrad``."""
_TENSOR: Final = object()
"""`_KINDS` value of tensor classes (a leaf given as a root)."""
_KINDS: dict[type, object] = {}
"""Python type -> what the walk does with objects of it: `_LEAF`, `_TENSOR`, the op name
(when every node of the type has the type's name), or `_NAMED` (ask each node its name)."""
_NAMED: Final = object()


def _kind_of(obj: Any) -> object:
    kind: object
    if isinstance(obj, torch.Tensor):
        kind = _TENSOR
    elif _is_accumulate(obj):
        kind = _LEAF
    else:
        name = obj.name()
        # one Python class per generated backward function; a shared wrapper class keeps asking
        kind = name if type(obj).__name__ == name else _NAMED
    _KINDS[type(obj)] = kind
    return kind


def _output_meta(fn: Any) -> tuple[tuple[int, ...] | None, str | None]:
    """Shape and dtype of the forward output of ``fn``; ``(None, None)`` when it has several or
    they are unknown (private API: ``_input_metadata``)."""
    try:
        meta = fn._input_metadata
        if len(meta) != 1:
            return None, None
        m = meta[0]
        return tuple(m.shape), dtype_name(m.dtype)
    except (AttributeError, RuntimeError, TypeError):  # nested or symbolic shapes
        return None, None


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
