"""Walk an autograd graph from output tensors into a `Graph`.

The walk is iterative (an explicit stack, no recursion) and keeps a seen-map, so a node shared by
many paths is visited once and a chain of a million ops is no harder than a chain of ten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, TypeAlias, TypedDict

import torch

from .errors import GradvizError, NoGraphError
from .model import Edge, Graph, Node, SavedTensor
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
    return start_walk(
        outputs,
        params=params,
        show_saved=show_saved,
        show_attrs=show_attrs,
        show_inputs=show_inputs,
        source=source,
        modules=modules,
    )[0]


def start_walk(
    outputs: Outputs,
    *,
    params: Mapping[str, torch.Tensor] | None = None,
    show_saved: bool = False,
    show_attrs: bool = False,
    show_inputs: bool = False,
    source: bool = False,
    modules: bool = False,
) -> tuple[Graph, _Walker]:
    """`build_graph`, plus the walker, whose `refresh` re-reads the gradients after a backward."""
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
    walker = _Walker(
        names,
        show_saved=show_saved,
        show_attrs=show_attrs,
        show_inputs=show_inputs,
        source=source,
        modules=modules,
    )
    walker.held.extend(fns)
    return walker.run(roots), walker


class _Walker:
    """One walk: the stack, the seen-map and the nodes and edges found so far."""

    def __init__(
        self,
        names: dict[int, str],
        *,
        show_saved: bool,
        show_attrs: bool,
        show_inputs: bool,
        source: bool,
        modules: bool,
    ) -> None:
        self.names = names
        self.source = SourceReader() if source else None
        self.modules = modules
        # (device, data_ptr) -> bytes of each storage a saved tensor keeps alive, counted once.
        self.storages: dict[tuple[str, int], int] = {}
        self.show_inputs = show_inputs
        self.show_saved = show_saved
        self.show_attrs = show_attrs
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        # id(autograd node or leaf tensor) -> node index. `held` keeps each object alive for the
        # walk, so no id() is reused by a newly made wrapper while we still look it up.
        self.seen: dict[int, int] = {}
        self.held: list[object] = []
        # (node index, tensor) for every node whose tensor can carry a .grad: see `refresh`.
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
        self._drain(stack, root_tensors)
        root_ids: list[str] = []
        for name, tensor in roots:
            fn: Any = tensor.grad_fn
            key = id(tensor) if fn is None else id(fn.variable) if _is_accumulate(fn) else id(fn)
            index = self.seen[key]
            node = self.nodes[index]
            if name is not None:  # a dict key names its root unless params already did
                self.nodes[index] = replace(
                    node, name=f"{node.name}, {name}" if node.name else name
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
                    self.nodes[i] = replace(node, module=owner)
                    break

    def refresh(self, graph: Graph) -> Graph:
        """``graph`` with the current ``.grad`` of its tensors; then forget those tensors."""
        nodes = list(graph.nodes)
        for index, tensor in self.tensors:
            grad = tensor.grad if tensor.is_leaf or tensor.retains_grad else None
            nodes[index] = replace(nodes[index], grad=None if grad is None else summarize(grad))
        self.tensors.clear()
        return replace(graph, nodes=tuple(nodes))

    def _drain(self, stack: list[tuple[Any, int, int]], root_tensors: dict[int, Any]) -> None:
        nodes, edges, seen = self.nodes, self.edges, self.seen
        while stack:
            obj, consumer, slot = stack.pop()
            # Ids are given in visit order: n0 is the first root.
            node_id = f"n{len(nodes)}"
            if obj is None:  # a forward input that needs no gradient
                index = len(nodes)
                nodes.append(Node(id=node_id, kind="input", requires_grad=False))
            else:
                fn: Any
                if isinstance(obj, torch.Tensor):  # a leaf given as a root
                    key, fn, leaf = id(obj), None, obj
                elif _is_accumulate(obj):  # a leaf's AccumulateGrad: fold in `.variable`
                    leaf = obj.variable
                    key, fn = id(leaf), obj
                else:
                    key, fn, leaf = id(obj), obj, None
                index = seen.get(key, -1)
                if index < 0:
                    index = len(nodes)
                    seen[key] = index
                    self.held.append(obj)
                    root = root_tensors.get(key)
                    if fn is not None:
                        self.fns.append((index, fn))
                    if leaf is not None:
                        self.held.append(leaf)
                        self.tensors.append((index, leaf))
                        nodes.append(self._leaf(node_id, leaf))
                    else:
                        if root is not None and root.retains_grad:
                            self.tensors.append((index, root))
                        op, saved = self._op(node_id, fn, root)
                        nodes.append(op)
                        # Saved tensors are numbered right after their owner, before its inputs.
                        for name, tensor in saved:
                            nodes.append(_saved_node(f"n{len(nodes)}", name, tensor))
                            edges.append(Edge(nodes[-1].id, node_id, None, "saved"))
                        nexts = fn.next_functions
                        for i in range(len(nexts) - 1, -1, -1):
                            child = nexts[i][0]
                            if child is not None or self.show_inputs:
                                stack.append((child, index, i))
            if consumer >= 0:
                edges.append(Edge(nodes[index].id, nodes[consumer].id, slot))

    def _leaf(self, node_id: str, tensor: torch.Tensor) -> Node:
        return Node(
            id=node_id,
            kind="leaf",
            op="AccumulateGrad",
            name=self.names.get(id(tensor)),
            is_leaf=True,
            requires_grad=tensor.requires_grad,
            shape=tuple(tensor.shape),
            dtype=dtype_name(tensor.dtype),
            grad=None if tensor.grad is None else summarize(tensor.grad),
        )

    def _op(
        self, node_id: str, fn: Any, root: torch.Tensor | None
    ) -> tuple[Node, list[tuple[str, torch.Tensor | None]]]:
        meta = _output_metadata(fn)
        shape, dtype = meta[0] if len(meta) == 1 else (None, None)
        retains = root is not None and root.retains_grad
        attrs: tuple[tuple[str, str], ...] = ()
        saved: list[tuple[str, torch.Tensor | None]] = []
        if self.show_attrs or self.show_saved:
            saved, attrs = _saved_values(fn, tensors=self.show_saved)
        node = Node(
            id=node_id,
            kind="op",
            op=fn.name(),
            name=self.names.get(id(fn)),
            retains_grad=retains,
            shape=shape,
            dtype=dtype,
            grad=summarize(root.grad) if retains and root.grad is not None else None,  # type: ignore[union-attr]
            attrs=attrs if self.show_attrs else (),
            source=self.source(fn) if self.source else None,
            module=module_of(fn) if self.modules else None,
            saved=tuple(self._describe(name, tensor) for name, tensor in saved),
        )
        return node, saved

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


def _output_metadata(fn: Any) -> list[tuple[tuple[int, ...] | None, str | None]]:
    """Shape and dtype of each forward output of ``fn`` (private API: ``_input_metadata``)."""
    try:
        meta = fn._input_metadata
    except (AttributeError, RuntimeError):
        return []
    out: list[tuple[tuple[int, ...] | None, str | None]] = []
    for m in meta:
        try:
            out.append((tuple(m.shape), dtype_name(m.dtype)))
        except (RuntimeError, TypeError):  # nested or symbolic shapes
            out.append((None, None))
    return out


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
