"""gradviz: see what PyTorch autograd did.

Walk ``grad_fn.next_functions`` from output tensors into a small typed `Graph`, then draw it as
DOT/SVG/PNG/PDF (Graphviz), JSON, or a tree in the terminal.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .errors import GradvizError, GraphvizNotFoundError, LayoutTimeoutError, NoGraphError
from .model import Edge, Graph, Node, TensorStats

if TYPE_CHECKING:
    from .api import (
        Explorer,
        Rendering,
        explore,
        flow,
        print_tree,
        render,
        to_dot,
        to_json,
        to_mermaid,
        to_svg,
    )
    from .compat import make_dot
    from .trace.record import BackwardCall, Capture, capture
    from .trace.walk import build_graph

try:
    __version__ = version("gradviz")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

# Loaded on first use, so that `import graphviz_autograd` (and `gradviz --help`) does not wait
# for torch; the names behave as ordinary imports.
_LAZY = {
    "Explorer": "api",
    "Rendering": "api",
    "explore": "api",
    "flow": "api",
    "print_tree": "api",
    "render": "api",
    "to_dot": "api",
    "to_json": "api",
    "to_mermaid": "api",
    "to_svg": "api",
    "make_dot": "compat",
    "BackwardCall": "trace.record",
    "Capture": "trace.record",
    "capture": "trace.record",
    "build_graph": "trace.walk",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackwardCall",
    "Capture",
    "Edge",
    "Explorer",
    "GradvizError",
    "Graph",
    "GraphvizNotFoundError",
    "LayoutTimeoutError",
    "Node",
    "NoGraphError",
    "Rendering",
    "TensorStats",
    "__version__",
    "build_graph",
    "capture",
    "explore",
    "flow",
    "make_dot",
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_mermaid",
    "to_svg",
]


def __dir__() -> list[str]:
    return sorted(__all__)
