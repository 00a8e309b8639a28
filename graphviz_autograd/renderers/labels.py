"""Plain-text descriptions of nodes, shared by the DOT, tree and JSON renderers.

Everything here returns unescaped text; each renderer quotes it for its own format.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Final

from ..model import CHECKPOINT_OP, Node, Source, TensorStats

__all__ = [
    "FULL_ATTR_CHARS",
    "FULL_SOURCE_CHARS",
    "FULL_VALUES",
    "RETURNED",
    "cut",
    "edge_label",
    "facts",
    "fmt_bytes",
    "fmt_float",
    "fmt_shape",
    "grad_line",
    "heading",
    "label_rest",
    "source_text",
    "subtitle",
    "title",
    "values_line",
]


def fmt_float(value: float | None) -> str:
    """Four significant digits; ``-`` for a missing value; ``NaN``, ``Inf``, ``-Inf``; ``0``
    for a negative zero too (a ``[-0, -0]`` range reads as a sign that is not there)."""
    if value is None:
        return "-"
    if value != value:  # NaN
        return "NaN"
    if value in (_INF, -_INF):
        return "Inf" if value > 0 else "-Inf"
    return "0" if value == 0 else f"{value:.4g}"


_INF: Final = float("inf")


def _nonfinite(stats: TensorStats) -> str:
    """``NaN``, ``Inf`` or ``NaN/Inf``: what a gradient with no finite entry holds."""
    if stats.nan and stats.inf:
        return "NaN/Inf"
    return "NaN" if stats.nan else "Inf"


@lru_cache(maxsize=4096)  # a graph has few distinct shapes, and a DOT label shows each twice
def fmt_shape(shape: tuple[int, ...] | None) -> str:
    """``(3, 4)`` for a shape, ``()`` for a scalar, ``?`` when unknown."""
    if shape is None:
        return "?"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def title(node: Node) -> str:
    """The first line of a node's label: its name, else what it is; ``×N`` when folded."""
    return heading(node.kind, node.op, node.name, node.count)


def heading(kind: str, op: str | None, name: str | None, count: int) -> str:
    """`title` from the four fields it reads."""
    if kind == "leaf":
        text = name or "leaf"
    elif kind == "input":
        text = name or "input (no grad)"
    elif kind == "saved":
        text = f"saved {name}"
    elif op == "module":  # a collapsed module (--depth)
        text = f"module {name}"
    elif name:
        text = f"{name} = {op}"
    else:
        text = op or "?"
    if op == CHECKPOINT_OP and kind == "op":
        text += " (reentrant checkpoint)"
    return f"{text} ×{count}" if count > 1 else text


def subtitle(node: Node) -> str:
    """Shape and dtype, or why they are missing."""
    if node.kind == "saved" and node.freed:
        return "freed by backward"
    if node.shape is None and node.dtype is None:
        return ""
    return f"{fmt_shape(node.shape)} {node.dtype or ''}".rstrip()


RETURNED: Final = "returned by torch.autograd.grad, not stored in .grad"
"""What a gradient `Node.grad_returned` marks is, in a tooltip or the explorer."""


def grad_line(stats: TensorStats | None, *, returned: bool = False) -> str:
    """``grad ‖·‖=0.64 [-0.5, -0.24]``: norm, and range; NaN/Inf counts when there are any.
    A gradient ``returned`` by ``torch.autograd.grad`` (`Node.grad_returned`) is called so:
    ``autograd.grad ‖·‖=0.64 ...``, not ``grad``, which reads as the tensor's ``.grad``."""
    if stats is None:
        return ""
    what = "autograd.grad" if returned else "grad"
    text = f"{what}:" if stats.norm is None else f"{what} ‖·‖={fmt_float(stats.norm)}"
    if stats.values is not None and len(stats.values) == 1:
        return f"{what}={fmt_float(stats.values[0])}"  # NaN, Inf: nothing to count
    if stats.min is not None:
        text += f" [{fmt_float(stats.min)}, {fmt_float(stats.max)}]"
    if stats.nan:
        text += f" {stats.nan} NaN"
    if stats.inf:
        text += f" {stats.inf} Inf"
    return text


def edge_label(grad: TensorStats | None, local: float | None) -> str:
    """What flowed along an edge: ``-1.5`` for a scalar, ``‖·‖=2.3`` otherwise, then the
    local derivative when known (``-1.5 (×0.5)``: the gradient at the consumer times 0.5);
    empty when nothing was recorded."""
    if grad is None:
        return ""
    if grad.values is not None and len(grad.values) == 1:
        text = fmt_float(grad.values[0])  # NaN, Inf: says so itself
    elif grad.norm is None:  # no finite entry: no norm to give
        text = "‖·‖=" + _nonfinite(grad)
    else:
        text = "‖·‖=" + fmt_float(grad.norm)
        if grad.nan or grad.inf:
            text += " NaN/Inf"
    return text if local is None else f"{text} (×{fmt_float(local)})"


def facts(node: Node) -> list[str]:
    """Every known fact about ``node`` but its id and `title`, one per line (tooltips): the
    same for nodes that differ only in id, name or count."""
    lines = []
    if node.op and node.kind != "op":  # an op's title shows its op
        lines.append(f"op: {node.op}")
    if node.kind != "saved" or not node.freed:
        lines.append(f"shape: {fmt_shape(node.shape)}  dtype: {node.dtype or '?'}")
    else:
        lines.append("freed by backward")
    lines.append(
        f"is_leaf: {node.is_leaf}  requires_grad: {node.requires_grad}"
        + ("  retains_grad: True" if node.retains_grad else "")
    )
    g = node.grad
    if g is not None:
        if node.grad_returned:
            lines.append(f"grad: {RETURNED}")
        lines.append(
            f"grad: shape {fmt_shape(g.shape)} norm {fmt_float(g.norm)} min {fmt_float(g.min)}"
            f" max {fmt_float(g.max)} mean {fmt_float(g.mean)} NaN {g.nan} Inf {g.inf}"
        )
        if g.values is not None:
            lines.append(values_line(g, 16))
    elif node.kind == "leaf":
        lines.append("grad: None (no backward yet)")
    lines.extend(f"{k}: {v}" for k, v in node.attrs)
    if node.module:
        lines.append(f"module: {node.module}")
    if node.source:
        lines.append(f"at {source_text(node.source)}")
    for t in node.saved:
        what = "freed" if t.freed else f"{fmt_shape(t.shape)} {t.dtype} {fmt_bytes(t.bytes)}"
        lines.append(f"saved {t.name}: {what}")
    return lines


def label_rest(node: Node, first_bad: bool, attr_chars: int = 0, full: bool = False) -> str:
    """What follows the title in the label of ``node``: its shape and gradient, and the first
    NaN's warning when it is ``first_bad``. With ``attr_chars``, also its attributes, each value
    cut to that many characters; with ``full`` (``labels="full"``), also what the tooltip knows:
    the gradient's first values, the attributes and the source line."""
    lines = [subtitle(node), grad_line(node.grad, returned=node.grad_returned)]
    if full:
        lines.append(values_line(node.grad, FULL_VALUES, one=False))
        attr_chars = attr_chars or FULL_ATTR_CHARS
    if attr_chars:
        lines.extend(f"{k}: {cut(v, attr_chars)}" for k, v in node.attrs)
    if full and node.source is not None:
        lines.append(cut(source_text(node.source), FULL_SOURCE_CHARS))
    if first_bad:
        lines.append("⚠ first NaN/Inf in backward")
    return "".join(f"\n{line}" for line in lines if line)


FULL_VALUES: Final = 6
"""``labels="full"``: the gradient values a label lists (the tooltip has up to 16)."""
FULL_ATTR_CHARS: Final = 40
"""``labels="full"`` or ``"attrs"``: a label cuts an attribute's value to this many characters."""
FULL_SOURCE_CHARS: Final = 60
"""``labels="full"``: a label cuts the source line to this many characters."""


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters ending in ``...``."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def values_line(stats: TensorStats | None, limit: int, *, one: bool = True) -> str:
    """``values: [1, 2, …]``: the first ``limit`` values of a gradient; empty when they were
    not kept (over 64), or when there is only one and not ``one`` (the grad line shows it)."""
    values = None if stats is None else stats.values
    if values is None or (len(values) == 1 and not one):
        return ""
    shown = ", ".join(fmt_float(v) for v in values[:limit])
    more = f", … ({len(values)} values)" if len(values) > limit else ""
    return f"values: [{shown}{more}]"


def source_text(source: Source) -> str:
    """``train.py:12: loss = model(x)`` (the file's name only)."""
    return f"{os.path.basename(source.file)}:{source.line}: {source.code}"


def fmt_bytes(n: int | None) -> str:
    """``1.5 MiB``; ``?`` when unknown."""
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
