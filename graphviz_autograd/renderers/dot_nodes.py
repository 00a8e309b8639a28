"""DOT node statements, ``  n5 [tooltip="n5: ..." label="..." ...];``, and the caches that
write each kind of statement once: nodes alike share the text after their id or title.

A walk describes the nodes alike with one record (`Graph.rows`), so a long chain or a wide
graph has a handful of statement ends to write, however many nodes it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain, islice, repeat
from operator import attrgetter
from typing import Final, NamedTuple

from ..model import Node, NodeKind
from .dot_quoting import escape
from .labels import facts, heading, label_rest
from .style import DARK_SHADES, LEGEND, Role

__all__ = [
    "FIRST_BAD_STYLE",
    "NODE_DEFAULTS",
    "NODE_STYLE",
    "Apart",
    "node_runs",
]

NODE_STYLE: Final[dict[Role, str]] = {
    "output": ' style="rounded,filled,bold"',
    "leaf": "",
    "input": ' style="rounded,filled,dashed" fontcolor="#555555"',
    "op": "",
    "saved": ' style="filled" shape=note fontcolor="#6b4a00"',
}
"""role -> the DOT node attributes it adds to the defaults (`NODE_DEFAULTS`: a rounded box
filled in the op colour); fill colours come from `LEGEND`."""

FIRST_BAD_STYLE: Final = 'color="#d00000" penwidth=3'
"""The DOT attributes that mark the node whose gradient was the first NaN/Inf in backward."""

_DEFAULT_FILL: Final = LEGEND["op"].fill
NODE_DEFAULTS: Final = (
    f'  node [shape=box style="rounded,filled" fillcolor="{_DEFAULT_FILL}" fontname="Helvetica" '
    'fontsize=10 height=0.3 margin="0.12,0.04" penwidth=0.8];'
)
"""The ``node`` defaults statement of a DOT graph."""


class Apart(NamedTuple):
    """How a node whose colour is not its kind's is drawn (a root, an op shaded by its
    gradient, the first NaN)."""

    output: bool
    """Drawn as an output (a root)."""
    fill: str | None
    """Its fill colour; None: its role's."""
    first_bad: bool
    """Its gradient was the first NaN/Inf in backward: a thick red border."""


def node_runs(
    nodes: Iterable[Node],
    refs: list[str],
    tips: list[str],
    apart: dict[int, Apart],
    show_order: bool,
    attr_chars: int = 0,
    full: bool = False,
) -> Iterator[Iterable[str]]:
    """The pieces of one statement per node, ``  n5 [tooltip="n5: ...];``, to join with "",
    in runs: the ordinary nodes before each node apart (made in C), then that node's pieces.
    ``nodes``: each node's record with a blank id (`Graph.rows`); ``refs``: their DOT IDs;
    ``tips``: their ids, escaped; ``apart``: node index -> how it is drawn, for the nodes
    whose colour is not their kind's. Each run is asked for once the one before it has been
    used up, so ``nodes`` is read once, in order. Made in C, not by a Python loop with an
    f-string per node, which costs a third more `to_dot` on the 100,000-op chain and a tenth
    on the 6-layer transformer."""
    ends = _Statements(show_order, attr_chars, full)
    rows = iter(nodes)
    start = 0
    for i in (*sorted(apart), len(refs)):
        if i > start:  # in a captured graph, ops apart often follow one another
            # Pieces, not lines, so that the only copy of the text is the one the join makes.
            yield chain.from_iterable(
                zip(
                    repeat("  "),
                    refs[start:i],
                    repeat(' [tooltip="'),
                    tips[start:i],
                    map(ends.__getitem__, islice(rows, i - start)),
                    strict=False,  # the repeats are endless; the rest have i - start items
                )
            )
        if i < len(refs):
            yield (f'  {refs[i]} [tooltip="{tips[i]}', ends.make(next(rows), apart[i]))
        start = i + 1


_ORDINARY: Final = Apart(output=False, fill=None, first_bad=False)
"""A node drawn in its kind's colour."""


class _Statements(dict[Node, str]):
    """A node's record with a blank id -> the end of its statement, which follows
    ``  n5 [tooltip="n5``: the title and facts, the label, the attributes. Nodes that differ
    only in id (the ops of a long chain, the leaves of a wide graph) share one end, made once,
    when first asked for; nodes that differ only in name (a model's parameters) or in backward
    order (the ops of a captured chain, with equal gradients of a few values) share all of it
    but the title (`_plain_rest` for what a walk makes, else `_Rests`), and the end of such a
    node, most likely the only one, is not kept. A node coloured apart (a root, an op shaded
    by its gradient) gets its end from `make`, which keeps none."""

    def __init__(self, show_order: bool, attr_chars: int = 0, full: bool = False) -> None:
        super().__init__()
        self.show_order = show_order
        self.rests = _Rests(attr_chars, full)

    def __missing__(self, node: Node) -> str:
        end = self.make(node, _ORDINARY)
        if node.name is None and node.order is None:  # else most likely the only one
            self[node] = end
        return end

    def make(self, node: Node, look: Apart) -> str:
        """The end of the statement of ``node`` (its id blank), drawn as ``look`` says; not
        kept."""
        head = escape(heading(node.kind, node.op, node.name, node.count))
        label_head = head
        if self.show_order and node.order is not None:
            label_head = f"#{node.order} {head}"  # the order is a number: nothing to escape
        role: Role = "output" if look.output else node.kind
        grad = node.grad
        if not look.first_bad and _is_plain(node):  # what a walk makes: ops of one shape
            rest = _plain_rest(  # share their rest
                node.kind,
                None if node.kind == "op" else node.op,  # an op's title shows its op
                node.shape,
                node.dtype,
                node.is_leaf,
                node.requires_grad,
                node.retains_grad,
                role,
                look.fill,
            )
        # A gradient of a few values often recurs (along a chain, across parallel branches); a
        # bigger one hardly ever, and hashing it costs more than the lookup saves: skip it.
        elif grad is None or (grad.values is not None and len(grad.values) <= _SHARED_VALUES):
            rest = self.rests.get(node, role, look)
        else:
            rest = self.rests.make(node, role, look)
        return f": {head}{rest.tip}{label_head}{rest.label}"


_SHARED_VALUES: Final = 4


class _Rest(NamedTuple):
    """What follows a node's title in its statement, escaped."""

    tip: str
    """In the tooltip: the facts, then ``" label="``."""
    label: str
    """In the label: shape, gradient and so on, then the attributes and ``];``."""


def _attributes(r: Role, look: Apart) -> str:
    """The DOT attributes of a node in role ``r``, drawn as ``look`` says."""
    fill = LEGEND[r].fill if look.fill is None else look.fill
    attrs = "" if fill == _DEFAULT_FILL else f' fillcolor="{fill}"'
    attrs += NODE_STYLE[r]
    if fill in DARK_SHADES:
        attrs += ' fontcolor="white"'
    if look.first_bad:
        attrs += " " + FIRST_BAD_STYLE
    return attrs


def _rest(node: Node, r: Role, look: Apart, attr_chars: int = 0, full: bool = False) -> _Rest:
    """The `_Rest` of ``node`` in role ``r``, drawn as ``look`` says."""
    tip = "".join(f"\n{line}" for line in facts(node))
    label = label_rest(node, look.first_bad, attr_chars, full)
    return _Rest(escape(tip) + '" label="', f'{escape(label)}"{_attributes(r, look)}];\n')


class _Rests:
    """The `_Rest` of each node in a role, drawn a way, made once for the nodes that differ
    only in name or backward order (neither shows in it). With ``attr_chars``, the label also
    lists an op's non-tensor saved attributes, each value cut to that many characters; with
    ``full``, also the source line and a gradient's first values (see `labels.label_rest`)."""

    def __init__(self, attr_chars: int = 0, full: bool = False) -> None:
        self.attr_chars = attr_chars
        self.full = full
        self.made: dict[tuple[object, Role, Apart], _Rest] = {}

    def get(self, node: Node, r: Role, look: Apart) -> _Rest:
        """The `_Rest` of ``node`` in role ``r`` drawn as ``look`` says, made once."""
        # A node with neither name nor order is its own key: reading its fields costs more.
        shown = node if node.name is None and node.order is None else _SHOWN(node)
        key = (shown, r, look)
        rest = self.made.get(key)
        if rest is None:
            rest = self.made[key] = self.make(node, r, look)
        return rest

    def make(self, node: Node, r: Role, look: Apart) -> _Rest:
        """The `_Rest` of ``node`` in role ``r`` drawn as ``look`` says, made anew."""
        return _rest(node, r, look, self.attr_chars, self.full)


_SHOWN: Final = attrgetter(*(f for f in Node._fields if f not in ("name", "order")))
"""A node's fields but its name and order: what its `_Rest` may show (it shows neither)."""


def _is_plain(node: Node) -> bool:
    """Whether ``node`` has no gradient, attributes, call site, module or saved tensors: what a
    walk makes by default. The rest of such a node shows only what `_plain_rest` is given."""
    return not (
        node.grad is not None
        or node.attrs
        or node.freed
        or node.source is not None
        or node.saved
        or node.module is not None
    )


@lru_cache(maxsize=4096)
def _plain_rest(
    kind: NodeKind,
    op: str | None,
    shape: tuple[int, ...] | None,
    dtype: str | None,
    is_leaf: bool,
    requires_grad: bool,
    retains_grad: bool,
    r: Role,
    fill: str | None,
) -> _Rest:
    """The `_Rest` of a plain node (see `_is_plain`) from what it shows (``op``: None for an
    op, whose title shows it), its role and fill: the ops of one output shape share one,
    whatever their op. Kept across calls, like the shape texts: a model's graphs show the same
    few (the 6-layer transformer's 116 kinds of node take 23, not 51)."""
    node = Node(
        "",
        kind,
        op=op,
        is_leaf=is_leaf,
        requires_grad=requires_grad,
        retains_grad=retains_grad,
        shape=shape,
        dtype=dtype,
    )
    return _rest(node, r, Apart(output=False, fill=fill, first_bad=False))
