"""How the explorer folds a graph with modules: by module, never across them, and runs of
identical modules (the 20 layers of a transformer, the blocks of a ResNet stage) as one; and
what it needs to give folded things their figures (`shading_dict`, `saved_of`).

`fold.fold` draws identical blocks in series once, whatever modules they belong to: the 20
layers of a GPT-2 become the nodes of its last layer, ×20. The explorer, which folds modules
itself, keeps each node in its own module instead (`within_modules`), and knows which sibling
modules are alike (`module_runs`), to draw them as one node that says what it stands for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..model import Graph, Node
from ..transform.fold.adjacency import name_key
from .style import DARK_SHADES, GRAD_RAMP, NONFINITE, Shading

__all__ = [
    "ModuleRun",
    "by_module",
    "module_runs",
    "run_dicts",
    "saved_of",
    "shading_dict",
    "within_modules",
]


class ModuleRun(NamedTuple):
    """Sibling modules numbered in a row (``h.0`` ... ``h.19``) made of the same nodes."""

    parent: str
    """The module holding them: ``model.transformer.h``."""
    members: tuple[str, ...]
    """Their paths, in order: ``model.transformer.h.0``, ..."""


def within_modules(graph: Graph, rep: Sequence[int]) -> list[int]:
    """``rep`` (`html.fold_map`: each node's index -> the node standing for it), with each node
    folded into a node of another module standing for itself: the explorer folds modules."""
    modules = list(graph.column("module"))
    return [r if modules[r] == modules[i] else i for i, r in enumerate(rep)]


def by_module(graph: Graph, folded: Graph, rep: Sequence[int]) -> tuple[list[int], list[str]]:
    """The page's folding of ``graph`` (``rep``: `html.fold_map` of ``folded``) kept within
    modules (`within_modules`), and ``folded``'s notes, the one saying what it folded made
    true of that."""
    mine = within_modules(graph, rep)
    if mine == list(rep):
        return mine, list(folded.notes)
    kept = [note for note in folded.notes[len(graph.notes) :] if not note.startswith("folded ")]
    hidden = sum(1 for i, r in enumerate(mine) if r != i)
    said = [f"folded {hidden:,} nodes: repeated structure inside modules drawn once with ×N"]
    return mine, [*graph.notes, *(said if hidden else []), *kept]


def module_runs(graph: Graph) -> list[ModuleRun]:
    """Runs of two or more sibling modules whose names are consecutive numbers and whose nodes
    are alike: the same ops, kinds, shapes and dtypes, in the same submodules, and leaves of
    the same names up to their numbers. In the order of their parents' paths."""
    contents: dict[str, list[str]] = {}
    nodes = zip(graph.column("module"), _descriptions(graph), strict=True)
    for path, about in nodes:
        if path is None:
            continue
        for cut in _prefix_ends(path):
            contents.setdefault(path[:cut], []).append(path[cut:] + about)
    numbered: dict[str, list[tuple[int, str]]] = {}
    for path in contents:
        parent, _, last = path.rpartition(".")
        if parent and last.isdigit():
            numbered.setdefault(parent, []).append((int(last), path))
    signature = {path: tuple(sorted(items)) for path, items in contents.items()}
    runs: list[ModuleRun] = []
    for parent in sorted(numbered):
        run: list[tuple[int, str]] = []
        for number, path in sorted(numbered[parent]):
            if run and (number != run[-1][0] + 1 or signature[path] != signature[run[-1][1]]):
                runs += _run(parent, run)
                run = []
            run.append((number, path))
        runs += _run(parent, run)
    return runs


def _run(parent: str, run: list[tuple[int, str]]) -> list[ModuleRun]:
    return [ModuleRun(parent, tuple(path for _, path in run))] if len(run) >= 2 else []


def _prefix_ends(path: str) -> Iterable[int]:
    """The ends of ``path``'s modules: ``a.b.c`` -> 1, 3, 5."""
    yield from (i for i, c in enumerate(path) if c == ".")
    yield len(path)


def _descriptions(graph: Graph) -> list[str]:
    """Each node as alike nodes describe it: kind, op, shape, dtype, leaf name without numbers."""
    return [
        " " + json.dumps([n.kind, n.op, n.shape and list(n.shape), n.dtype, name_key(n)])
        for n in graph.nodes
    ]


def run_dicts(runs: Sequence[ModuleRun]) -> list[dict[str, Any]]:
    """The runs as the page reads them."""
    return [{"parent": run.parent, "members": list(run.members)} for run in runs]


def shading_dict(shading: Shading) -> dict[str, Any]:
    """How the page shades folded things as `style.grad_shades` shades ops: the ramp, the
    norms its ends stand for (None: no op has a norm), the shades that need white text."""
    return {
        "ramp": list(GRAD_RAMP),
        "low": shading.low,
        "high": shading.high,
        "nonfinite": NONFINITE,
        "dark": sorted(DARK_SHADES & set(GRAD_RAMP)),
    }


def saved_of(node: Node) -> int:
    """The bytes the tensors ``node`` saved for backward keep alive (none once freed)."""
    return sum(t.bytes or 0 for t in node.saved)
