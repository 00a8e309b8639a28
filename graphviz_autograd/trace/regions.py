"""What AOTAutograd built for a compiled region: the backward graph behind a
``CompiledFunctionBackward`` node, read into torch-free records (`Region`) that `opened` splices
into the eager graph.

Each region's node is an instance of the backward class of an ``autograd.Function`` that
AOTAutograd makes for that region alone (``type(node)._forward_cls``). Until its backward is
first compiled, that class keeps the backward FX graph it traced
(``_lazy_backward_info.bw_module``), with each value's fake tensor (``meta["val"]``) and the
module that made it. Inductor, saving its cache entry at the first backward, clears that
metadata; a region loaded from the cache keeps only a function that unpickles its graph,
without metadata (``bw_module_fn``). So a region is read once, as early as gradviz sees it (when
the compiled call returns, inside `aside`, or when a walk meets it) and kept by its class.

All of this is torch's private state, and all of it is read here: where a torch upgrade moves
it, `read` says why it cannot open the node (`Unopened`) and the node is drawn as before.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from typing import Any, Final, Literal, NamedTuple

import torch

from ..model import COMPILED_OP, Source
from .stats import dtype_name

__all__ = ["Region", "Unopened", "Value", "find", "read", "remember"]

Role = Literal["op", "saved", "primal", "tangent", "size"]


class Value(NamedTuple):
    """One node of a region's backward graph, by role: an aten ``op``; a placeholder that is a
    ``saved`` activation, a forward input (``primal``) saved for backward, the gradient
    flowing in at one of the region's outputs (``tangent``), or a symbolic ``size`` (a SymInt
    of a dynamic shape, not drawn)."""

    name: str
    """Its FX name: ``mm_1``; for a saved activation, the forward op that made it: ``addmm``."""
    role: Role
    op: str | None = None
    """The aten op, without namespace and overload: ``mm``, ``sum``."""
    reads: tuple[str, ...] = ()
    """The FX names of the values an op reads, in order."""
    primal: int | None = None
    """For a ``primal``: which of the region's inputs it is (0-based)."""
    slot: int | None = None
    """For a ``primal`` that requires grad: its slot in the region node's ``next_functions``."""
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    bytes: int | None = None
    module: str | None = None
    """The module that made it (the forward op's, for a backward op), as a path inside the
    compiled module or from the compiled function's variables: ``0``, ``model.0``."""
    source: Source | None = None


class Region(NamedTuple):
    """The backward graph of one compiled region."""

    values: tuple[Value, ...]
    """Placeholders first, then ops, in graph order."""
    outputs: tuple[str | None, ...]
    """For each ``next_functions`` slot of the region's node: the FX name of the value that is
    the gradient of that input, or None."""
    label: str
    """What was compiled: a function's name, or ``""`` for a compiled module (its box names it)."""
    order: int
    """AOTAutograd's number for the region (``aot_id``): regions are compiled in the order
    they first run."""
    traced: bool
    """False when the graph was read without shapes (loaded from the compile cache, or already
    compiled by inductor when gradviz first met it)."""


class Unopened(NamedTuple):
    """A region whose backward graph cannot be had, and why."""

    why: str


_read: weakref.WeakKeyDictionary[type, Region | Unopened] = weakref.WeakKeyDictionary()
_labels: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()


def remember(output: Any, label: str, inputs: Any = ()) -> None:
    """Read the regions a compiled call made ``output`` with, now, before its first backward,
    and label them ``label`` (not the regions behind its ``inputs``: earlier calls made those).
    Never raises: the call's output is the user's."""
    try:
        before = {type(fn)._forward_cls for fn in _regions_near(_grad_fns(inputs))}
        for fn in _regions_near(_grad_fns(output)):
            forward = type(fn)._forward_cls
            if forward not in before:
                _labels.setdefault(forward, label)
            read(fn)
    except Exception:  # noqa: BLE001 - torch's private state moved: nothing to remember
        return


def _grad_fns(values: Any) -> list[Any]:
    leaves = torch.utils._pytree.tree_leaves(values)
    return [t.grad_fn for t in leaves if isinstance(t, torch.Tensor) and t.grad_fn is not None]


def _regions_near(starts: Iterable[Any], limit: int = 64) -> list[Any]:
    """The region nodes among the first ``limit`` autograd nodes behind ``starts``: those of
    this call (a graph break makes one after another), without walking the whole graph."""
    queue: list[Any] = list(starts)
    found: list[Any] = []
    seen: set[Any] = set()
    for fn in queue:
        if len(seen) >= limit:
            break
        if fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__ == COMPILED_OP:
            found.append(fn)
        queue.extend(child for child, _ in fn.next_functions if child is not None)
    return found


def find(fns: list[Any], ops: Iterable[str | None]) -> dict[int, Region | Unopened]:
    """Node index -> its region, for each region node among a walk's autograd nodes."""
    return {i: read(fns[i]) for i, op in enumerate(ops) if op == COMPILED_OP}


def read(fn: Any) -> Region | Unopened:
    """The region behind the node ``fn``, read once per region."""
    forward = getattr(type(fn), "_forward_cls", None)
    if forward is None:
        return Unopened("no compiled region behind it")
    region = _read.get(forward)
    if region is None:
        try:
            region = _region(forward, fn.next_functions)
        except Exception as exc:  # noqa: BLE001 - private state moved: the node says why
            region = Unopened(f"its backward graph could not be read ({type(exc).__name__})")
        _read[forward] = region
    if isinstance(region, Region):
        return region._replace(label=_labels.get(forward, ""))
    return region


def _region(forward: Any, next_functions: Any) -> Region | Unopened:
    info: Any = getattr(forward, "_lazy_backward_info", None)
    module = getattr(info, "bw_module", None)
    if module is None and callable(getattr(info, "bw_module_fn", None)):
        module = info.bw_module_fn()  # a region loaded from the compile cache
    if not isinstance(module, torch.fx.GraphModule):
        return Unopened("AOTAutograd kept no backward graph for it")
    grads: list[Any] = []
    for node in module.graph.find_nodes(op="output"):
        grads = _flat(node.args[0])
    slots = _slots(forward, next_functions, len(grads))
    if isinstance(slots, Unopened):
        return slots
    values = [
        _placeholder(node, slots) if node.op == "placeholder" else _op(node)
        for node in module.graph.nodes
        if node.op in ("placeholder", "call_function")
    ]
    outputs: list[str | None] = [None] * len(next_functions)
    for i, slot in slots.items():
        outputs[slot] = _name(grads[i])
    traced = any(v.shape is not None for v in values)
    order = getattr(forward, "_aot_id", 0)
    return Region(tuple(values), tuple(outputs), "", order if isinstance(order, int) else 0, traced)


def _slots(forward: Any, next_functions: Any, grads: int) -> dict[int, int] | Unopened:
    """Input index -> ``next_functions`` slot, for each input of the region that requires grad.
    The backward graph returns one gradient per input, None for those that need none (a SymInt
    of a dynamic shape has no slot at all); the slots of those that do are the ones with an
    autograd node, in the same order."""
    needs = [bool(info.requires_grad) for info in forward.metadata.input_info]
    if len(needs) != grads:
        return Unopened(f"its backward graph has {grads} gradients for {len(needs)} inputs")
    wanted = [i for i, need in enumerate(needs) if need]
    slots = [k for k, (child, _) in enumerate(next_functions) if child is not None]
    if len(wanted) != len(slots):
        return Unopened(f"{len(wanted)} of its inputs require grad, {len(slots)} have a node")
    return dict(zip(wanted, slots, strict=True))


def _flat(args: Any) -> list[Any]:
    return list(args) if isinstance(args, (tuple, list)) else [args]


def _name(value: Any) -> str | None:
    return value.name if isinstance(value, torch.fx.Node) else None


_PRIMAL: Final = re.compile(r"primals_(\d+)$")


def _placeholder(node: torch.fx.Node, slots: dict[int, int]) -> Value:
    name = node.name
    primal = _PRIMAL.match(name)
    index = int(primal.group(1)) - 1 if primal else None
    role: Role = "saved"
    if isinstance(node.meta.get("val"), (int, torch.SymInt)):
        role = "size"
    elif primal is not None:
        role = "primal"
    elif name.startswith("tangents_"):
        role = "tangent"
    shape, dtype, nbytes = _tensor(node.meta.get("val"))
    return Value(
        name,
        role,
        primal=index,
        slot=slots.get(index) if index is not None else None,
        shape=shape,
        dtype=dtype,
        bytes=nbytes,
        module=_module(node.meta.get("nn_module_stack")),
        source=_source(node.meta.get("stack_trace")),
    )


def _op(node: torch.fx.Node) -> Value:
    reads = tuple(dict.fromkeys(a.name for a in node.all_input_nodes))
    shape, dtype, _ = _tensor(node.meta.get("val"))
    meta = node.meta
    return Value(
        node.name,
        "op",
        op=_op_name(node.target),
        reads=reads,
        shape=shape,
        dtype=dtype,
        module=_module(meta.get("fwd_nn_module_stack") or meta.get("nn_module_stack")),
        source=_source(meta.get("stack_trace")),
    )


def _op_name(target: Any) -> str:
    """``aten.mm.default`` -> ``mm``; ``aten.sum.dim_IntList`` -> ``sum`` (its overload
    packet's name, as ``torch.ops.aten.sum``)."""
    packet = getattr(target, "overloadpacket", None)
    name = getattr(packet, "__name__", None) or getattr(target, "__name__", None)
    return name if isinstance(name, str) else str(target)


def _tensor(value: Any) -> tuple[tuple[int, ...] | None, str | None, int | None]:
    """Shape, dtype and bytes of a fake tensor (None each when not a tensor of known size)."""
    if not isinstance(value, torch.Tensor):
        return None, None, None
    try:
        shape = tuple(int(s) for s in value.shape)
    except (TypeError, RuntimeError):  # a symbolic size
        return None, dtype_name(value.dtype), None
    numel = 1
    for size in shape:
        numel *= size
    return shape, dtype_name(value.dtype), numel * value.element_size()


_ROOT: Final = re.compile(r"^[LG]\['([^']*)'\]")
_PART: Final = re.compile(r"\._modules\['([^']*)'\]|\[(\d+)\]|\['([^']*)'\]")


def _module(stack: Any) -> str | None:
    """The innermost module of Dynamo's ``nn_module_stack`` (``{key: (path, type)}``), as a
    dotted path: ``L['fn'].layers[0]`` -> ``fn.layers.0``."""
    if not stack:
        return None
    path = list(stack.values())[-1][0]
    if not isinstance(path, str):
        return None
    path = _ROOT.sub(lambda m: m.group(1), path)
    return _PART.sub(lambda m: "." + (m.group(1) or m.group(2) or m.group(3)), path)


def _source(trace: Any) -> Source | None:
    """The innermost frame of an FX node's ``stack_trace``, when it carries one."""
    if not isinstance(trace, str):
        return None
    lines = trace.rstrip().splitlines()
    for k in range(len(lines) - 1, -1, -1):
        found = re.match(r'\s*File "(.*)", line (\d+)', lines[k])
        if found:
            code = lines[k + 1].strip() if k + 1 < len(lines) else ""
            return Source(found.group(1), int(found.group(2)), code)
    return None
