"""The `Node` record that describes each autograd node a walk meets, with a blank id.

Most ops share one record: their type's (`shared_records`), or their name's, output shape and
dtype's (`shaped_op`); records are made in C by ``map`` where there are many (`records`).
The caches here live across walks: a model's graphs meet the same few op types and shapes
each time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import repeat
from operator import attrgetter
from typing import Any, Final

from ..model import Node
from .stats import DTYPE_NAMES, shape_of

__all__ = [
    "INPUT",
    "INPUT_SLOT",
    "LEAF_TYPES",
    "add_op_shapes",
    "leaf_records",
    "place_leaves",
    "positions",
    "records",
    "shared_records",
]


class _InputSlot:
    """Stands in the walk's node list for a forward input that needs no gradient."""

    next_functions: Final = ()


INPUT_SLOT: Final = _InputSlot()


INPUT: Final = Node("", "input", requires_grad=False)
"""The record of every forward input that needs no gradient."""

LEAF_TYPES: set[type] = set()
"""The Python types of ``AccumulateGrad`` nodes met so far."""
_SHARED: dict[type, Node | None] = {}
"""Python type -> the record every node of that type shares (an op whose name is its type's),
or None: a leaf, an input slot, or a wrapper type shared by ops of several names."""


def _learn(kind_type: type, example: Any) -> None:
    """Fill `_SHARED` (and `LEAF_TYPES`) for ``kind_type``, from a node of that type."""
    record: Node | None = None
    if example is INPUT_SLOT:
        pass
    elif hasattr(example, "variable"):
        LEAF_TYPES.add(kind_type)
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
def shaped_op(name: str | None, shape: tuple[Any, ...], dtype: str) -> Node:
    """The record of an op of this name, output shape and dtype name: one per distinct three,
    kept across walks, like `_SHARED`: a model's graphs meet the same few each time."""
    return Node("", "op", op=name, shape=_plain(shape), dtype=dtype)


def _plain(shape: tuple[Any, ...]) -> tuple[int, ...] | None:
    """``shape``, or None when a size is symbolic: the ragged dimension of a nested tensor."""
    return shape if all(type(n) is int for n in shape) else None


_REQUIRES_GRAD: Final = attrgetter("requires_grad")
_DTYPE: Final = attrgetter("dtype")
_SHAPE: Final = attrgetter("shape")
_SHAPE_AND_DTYPE: Final = attrgetter("shape", "dtype")


def records(**columns: Iterable[Any]) -> Iterator[Node]:
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


def positions(items: list[Any], value: object) -> Iterator[int]:
    """The positions of ``value`` in ``items``, each found by `list.index` (in C)."""
    i = -1
    try:
        while True:
            i = items.index(value, i + 1)
            yield i
    except ValueError:
        return


def place_leaves(records: list[Node]) -> None:
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


def shared_records(fns: list[Any]) -> list[Node | None]:
    """The record each of ``fns`` shares with the nodes of its type; None for the rest (leaves,
    input slots, ops whose type several op names share). Looked up in C by map, and the rest
    found by `positions`: 9% off build_graph on the 100,000-op chain (71 -> 65 ms), which must
    stay within 2x the bare walk."""
    try:
        return list(map(_SHARED.__getitem__, map(type, fns)))
    except KeyError:  # types not met before: learn each from one of its nodes, then map
        types = list(map(type, fns))
        for kind_type in set(types).difference(_SHARED):
            _learn(kind_type, fns[types.index(kind_type)])
        return list(map(_SHARED.__getitem__, types))


def leaf_records(
    tensors: list[Any], names: list[str | None], grads: Iterable[Any]
) -> Iterator[Node]:
    """The records of leaves ``tensors`` (``AccumulateGrad.variable`` each), with their names
    and gradient summaries; leaves of one shape share one shape tuple."""
    shapes: Iterable[tuple[int, ...] | None]
    try:
        shapes = list(map(_Shapes().__getitem__, map(_SHAPE, tensors)))
    except RuntimeError:  # a strided nested tensor has no .shape
        shapes = map(shape_of, tensors)
    return records(
        kind=repeat("leaf"),
        op=repeat("AccumulateGrad"),
        name=names,
        is_leaf=repeat(True),
        requires_grad=map(_REQUIRES_GRAD, tensors),
        shape=shapes,
        dtype=map(DTYPE_NAMES.__getitem__, map(_DTYPE, tensors)),
        grad=grads,
    )


def add_op_shapes(records: list[Node], fns: list[Any]) -> None:
    """Add each op's output shape and dtype. Until now an op's record is its name's, so ops
    of one name, shape and dtype still share one record. Each op's metadata is read and
    dropped in turn: holding them all costs more (in memory touched) than a Python loop
    saves."""
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
        records[i] = shaped_op(record.op, tuple(shape), dtype_names[dtype])
