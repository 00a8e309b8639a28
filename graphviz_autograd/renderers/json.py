"""`Graph` -> JSON, schema ``gradviz-graph`` version 1 (see docs/json-schema.md), and back."""

from __future__ import annotations

import json
import math
from typing import Any, Final

from ..errors import GradvizError
from ..model import Edge, Graph, Node, SavedTensor, Source, TensorStats

__all__ = [
    "SCHEMA_VERSION",
    "edge_dict",
    "from_json",
    "graph_dict",
    "json_number",
    "node_dict",
    "read_node",
    "to_json",
]

SCHEMA_VERSION: Final = 1


def json_number(value: float) -> float | str:
    """JSON has no NaN or Infinity: those become the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _maybe_number(value: float | None) -> float | str | None:
    return None if value is None else json_number(value)


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
        out["values"] = [json_number(v) for v in stats.values]
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
    if node.grad_returned:
        out["grad_returned"] = True
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


def _read_number(value: Any) -> float:
    """The inverse of `json_number`: ``"nan"``, ``"inf"``, ``"-inf"`` back to floats."""
    if isinstance(value, str):
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"not a number: {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _read_maybe_number(value: Any) -> float | None:
    return None if value is None else _read_number(value)


def _read_shape(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(n) for n in value)


def _read_stats(value: Any) -> TensorStats | None:
    if value is None:
        return None
    values = value.get("values")
    return TensorStats(
        shape=_read_shape(value["shape"]),
        norm=_read_maybe_number(value["norm"]),
        min=_read_maybe_number(value["min"]),
        max=_read_maybe_number(value["max"]),
        mean=_read_maybe_number(value["mean"]),
        nan=int(value["nan"]),
        inf=int(value["inf"]),
        values=None if values is None else tuple(map(_read_number, values)),
    )


def read_node(doc: dict[str, Any]) -> Node:
    """The inverse of `node_dict`."""
    source = doc.get("source")
    grads = doc.get("grads")
    return Node(
        id=str(doc["id"]),
        kind=doc["kind"],
        op=doc["op"],
        name=doc["name"],
        is_leaf=bool(doc["is_leaf"]),
        requires_grad=bool(doc["requires_grad"]),
        retains_grad=bool(doc.get("retains_grad", False)),
        shape=_read_shape(doc["shape"]),
        dtype=doc["dtype"],
        grad=_read_stats(doc["grad"]),
        attrs=tuple((str(k), str(v)) for k, v in doc.get("attrs", {}).items()),
        freed=bool(doc.get("freed", False)),
        grads=None if grads is None else tuple(map(_read_stats, grads)),
        order=doc.get("order"),
        count=int(doc.get("count", 1)),
        source=None if source is None else _read_source(source),
        saved=tuple(map(_read_saved, doc.get("saved", ()))),
        module=doc.get("module"),
        grad_returned=bool(doc.get("grad_returned", False)),
    )


def _read_source(value: Any) -> Source:
    return Source(file=value["file"], line=value["line"], code=value["code"])


def _read_saved(value: Any) -> SavedTensor:
    return SavedTensor(
        name=value["name"],
        shape=_read_shape(value["shape"]),
        dtype=value["dtype"],
        bytes=value["bytes"],
        freed=value["freed"],
    )


def from_json(text: str) -> Graph:
    """Read back a document `to_json` wrote: the same `Graph` (ids, fields, order).

    Later versions of the schema only add keys, which are ignored here.

    Raises:
        GradvizError: ``text`` is not JSON, or not a ``gradviz-graph`` document.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise GradvizError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "gradviz-graph":
        raise GradvizError('not a gradviz graph (JSON without "format": "gradviz-graph")')
    try:
        return Graph(
            nodes=tuple(read_node(n) for n in doc["nodes"]),
            edges=tuple(
                Edge(
                    src=str(e["src"]),
                    dst=str(e["dst"]),
                    slot=e["slot"],
                    kind=e.get("kind", "data"),
                    grad=_read_stats(e.get("grad")),
                    local=_read_maybe_number(e.get("local")),
                )
                for e in doc["edges"]
            ),
            roots=tuple(map(str, doc["roots"])),
            notes=tuple(map(str, doc.get("notes", ()))),
            first_nonfinite=doc.get("first_nonfinite"),
            saved_bytes=doc.get("saved_bytes"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise GradvizError(f"not a valid gradviz graph: {what}") from None
