"""`Graph` -> JSON, schema ``gradviz-graph`` version 1 (see docs/json-schema.md)."""

from __future__ import annotations

import json
import math
from typing import Any, Final

from ..model import Edge, Graph, Node, TensorStats

__all__ = ["SCHEMA_VERSION", "edge_dict", "graph_dict", "node_dict", "to_json"]

SCHEMA_VERSION: Final = 1


def _number(value: float) -> float | str:
    """JSON has no NaN or Infinity: those become the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _maybe_number(value: float | None) -> float | str | None:
    return None if value is None else _number(value)


def _stats(stats: TensorStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    out: dict[str, Any] = {
        "shape": None if stats.shape is None else list(stats.shape),
        # Finite-only, but a float64 norm or mean can still overflow to inf.
        "norm": _maybe_number(stats.norm),
        "min": _maybe_number(stats.min),
        "max": _maybe_number(stats.max),
        "mean": _maybe_number(stats.mean),
        "nan": stats.nan,
        "inf": stats.inf,
    }
    if stats.values is not None:
        out["values"] = [_number(v) for v in stats.values]
    return out


def node_dict(node: Node, *, saved_lists: bool = False) -> dict[str, Any]:
    """One node as a JSON-ready dict: the version-1 keys, then optional extras."""
    out: dict[str, Any] = {
        "id": node.id,
        "kind": node.kind,
        "op": node.op,
        "name": node.name,
        "is_leaf": node.is_leaf,
        "requires_grad": node.requires_grad,
        "shape": None if node.shape is None else list(node.shape),
        "dtype": node.dtype,
        "grad": _stats(node.grad),
    }
    out["order"] = node.order
    if node.grads is not None:
        out["grads"] = [_stats(g) for g in node.grads]
    if node.count != 1:
        out["count"] = node.count
    if node.source is not None:
        src = node.source
        out["source"] = {"file": src.file, "line": src.line, "code": src.code}
    if node.module is not None:
        out["module"] = node.module
    if node.saved or (saved_lists and node.kind == "op"):
        out["saved"] = [
            {"name": t.name, "shape": None if t.shape is None else list(t.shape),
             "dtype": t.dtype, "bytes": t.bytes, "freed": t.freed}
            for t in node.saved
        ]  # fmt: skip
    if node.retains_grad:
        out["retains_grad"] = True
    if node.attrs:
        out["attrs"] = dict(node.attrs)
    if node.kind == "saved":
        out["freed"] = node.freed
    return out


def edge_dict(edge: Edge) -> dict[str, Any]:
    """One edge: ``src`` feeds ``dst``; ``slot`` is its input position (null for saved edges)."""
    out: dict[str, Any] = {"src": edge.src, "dst": edge.dst, "slot": edge.slot}
    if edge.kind != "data":
        out["kind"] = edge.kind
    if edge.grad is not None:  # captured: what flowed along it
        out["grad"] = _stats(edge.grad)
        out["local"] = _maybe_number(edge.local)
    return out


def graph_dict(graph: Graph) -> dict[str, Any]:
    """The whole document as a dict."""
    return {
        "format": "gradviz-graph",
        "version": SCHEMA_VERSION,
        "roots": list(graph.roots),
        "first_nonfinite": graph.first_nonfinite,
        "notes": list(graph.notes),
        **({} if graph.saved_bytes is None else {"saved_bytes": graph.saved_bytes}),
        "nodes": [node_dict(n, saved_lists=graph.saved_bytes is not None) for n in graph.nodes],
        "edges": [edge_dict(e) for e in graph.edges],
    }


def to_json(graph: Graph) -> str:
    """JSON text, one node or edge per line; same graph, same bytes."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

    def block(items: list[str]) -> str:
        return "[\n    " + ",\n    ".join(items) + "\n  ]" if items else "[]"

    doc = graph_dict(graph)
    nodes, edges = doc.pop("nodes"), doc.pop("edges")
    lines = [f"  {dump(key)}: {dump(value)}" for key, value in doc.items()]
    lines.append(f'  "nodes": {block([dump(n) for n in nodes])}')
    lines.append(f'  "edges": {block([dump(e) for e in edges])}')
    return "{\n" + ",\n".join(lines) + "\n}\n"
