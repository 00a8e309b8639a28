"""gradviz: see what PyTorch autograd did.

Walk ``grad_fn.next_functions`` from output tensors into a small typed `Graph`, then draw it as
DOT/SVG/PNG/PDF (Graphviz), JSON, or a tree in the terminal.
"""

from importlib.metadata import PackageNotFoundError, version

from .api import Rendering, print_tree, render, to_dot, to_json, to_svg
from .capture import BackwardCall, Capture, capture
from .errors import GradvizError, GraphvizNotFoundError, LayoutTimeoutError, NoGraphError
from .model import Edge, Graph, Node, TensorStats
from .walk import build_graph

try:
    __version__ = version("gradviz")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "BackwardCall",
    "Capture",
    "Edge",
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
    "print_tree",
    "render",
    "to_dot",
    "to_json",
    "to_svg",
]
