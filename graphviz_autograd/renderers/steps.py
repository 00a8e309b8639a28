"""A whole run in one explorer page: the union of its graphs, laid out once, and every step's
figures for the page to step through (`run_page`).

What the page gets besides the graph, as ``DATA.steps``:

- ``names``: the steps' call names; ``of``: how many calls the run made (``every``: one step in
  that many is in the page, where all would not fit in `FIGURES_BUDGET`; the first, the last
  and those whose structure changes always are);
- ``nodes``: base64 of float32 ``[step][node][figure]`` (``figures`` names them: norm, min,
  max, mean, nonfinite), NaN where a node had no gradient or is not in that step's graph;
  ``edges``: base64 of float32 ``[step][edge]``, the norm along each edge;
- ``structure``: each step's structure, ``absent``: per structure, the nodes it does not have,
  ``changes``: the steps where the structure differs from the step before;
- ``scale``: ``[low, high]`` of the op and leaf norms over every step, for one shading; the
  ramps and colours of `style` (``plain``: the fills of an op and a leaf without a gradient);
- ``flow``: `transform.flow.flow` per layer: ``rows`` (name, kind, params) and ``norms``, base64
  of float32 ``[row][step]``.
"""

from __future__ import annotations

import base64
import math
import sys
from array import array
from typing import Any, Final, NamedTuple

from ..errors import GradvizError
from ..history import FIGURES, History
from ..transform.flow import flow
from ..transform.union import Union, union
from .fitting import fold_for
from .html import UNFOLD_UP_TO, to_html
from .options import DrawOptions
from .style import DARK_SHADES, GRAD_RAMP, LEAF_RAMP, LEGEND, NONFINITE

__all__ = ["FIGURES_BUDGET", "Thinned", "run_page", "steps_data", "thinned"]

FIGURES_BUDGET: Final = 12_000_000
"""Bytes of figures (float32, before base64) a page holds at most: with the graph and the
page's code, under 20 MB."""


def run_page(history: History, options: DrawOptions = DrawOptions()) -> str:  # noqa: B008
    """The explorer page of a whole run: the union of its graphs (`transform.union`), opening
    folded as a picture would be, with every step's figures (`steps_data`)."""
    if not history.steps:
        raise GradvizError("no backward call was recorded")
    joined = union(history)
    graph = joined.graph
    if len(graph) > UNFOLD_UP_TO:
        raise GradvizError(
            f"a run's page holds graphs of up to {UNFOLD_UP_TO:,} nodes; this one has "
            f"{len(graph):,}: write one call with --call N"
        )
    return to_html(
        graph,
        folded=fold_for(graph, "html", options.max_nodes),
        rankdir=options.rankdir,
        show_order=options.show_order,
        steps=steps_data(history, joined),
        title="gradviz run",
    )


class Thinned(NamedTuple):
    """The steps a page holds (`thinned`)."""

    steps: list[int]
    """Their indices in the run, in order."""
    every: int
    """One step in every this many is in the page (1: all of them)."""


def thinned(history: History, per_step: int, budget: int = FIGURES_BUDGET) -> Thinned:
    """The steps that fit ``budget`` at ``per_step`` bytes each: all, or one in every few,
    the first, the last and those whose structure changes among them."""
    count = len(history.steps)
    every = max(1, math.ceil(count * per_step / budget))
    if every == 1:
        return Thinned(list(range(count)), 1)
    keep = set(range(0, count, every)) | {count - 1} | set(history.changes())
    return Thinned(sorted(keep), every)


def _b64(values: array[float]) -> str:
    """float32 ``values`` as base64 of their little-endian bytes, as the page reads them."""
    if sys.byteorder == "big":
        values = array("f", values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def steps_data(history: History, joined: Union) -> dict[str, Any]:
    """``DATA.steps`` for a page of the union graph whole (its nodes in the page's order)."""
    graph = joined.graph
    width = len(FIGURES)
    count, edges = len(graph), len(graph.edges)
    kept, every = thinned(history, (count * width + edges) * 4)
    nodes = array("f", [math.nan]) * (len(kept) * count * width)
    along = array("f", [math.nan]) * (len(kept) * edges)
    low, high = math.inf, 0.0
    kinds = graph.column("kind")
    measured = [kind in ("op", "leaf") for kind in kinds]
    for row, s in enumerate(kept):
        step = history.steps[s]
        node_map, edge_map = joined.node_maps[step.graph], joined.edge_maps[step.graph]
        base = row * count * width
        for k, at in enumerate(node_map):
            figures = step.nodes[k * width : (k + 1) * width]
            nodes[base + at * width : base + (at + 1) * width] = figures
            norm = figures[0]
            if measured[at] and norm > 0 and math.isfinite(norm) and figures[4] == 0:
                low, high = min(low, norm), max(high, norm)
        for e, at in enumerate(edge_map):
            along[row * edges + at] = step.edges[e]
    present = [set(m) for m in joined.node_maps]
    run_flow = flow(history)
    norms = array("f", (row.norms[s] for row in run_flow.rows for s in kept))
    return {
        "names": [history.steps[s].name for s in kept],
        "errors": {
            str(r): history.steps[s].error for r, s in enumerate(kept) if history.steps[s].error
        },
        "of": len(history.steps),
        "every": every,
        "unkept": history.unkept,
        "figures": list(FIGURES),
        "nodes": _b64(nodes),
        "edges": _b64(along),
        "structure": [history.steps[s].graph for s in kept],
        "absent": [[i for i in range(count) if i not in have] for have in present],
        "changes": [
            r
            for r in range(1, len(kept))
            if history.steps[kept[r]].graph != history.steps[kept[r - 1]].graph
        ],
        "scale": None if high == 0.0 else [low, high],
        "ramp": list(GRAD_RAMP),
        "leaf_ramp": list(LEAF_RAMP),
        "nonfinite": NONFINITE,
        "dark": sorted(DARK_SHADES),
        "plain": {"op": LEGEND["op"].fill, "leaf": LEGEND["leaf"].fill},
        "flow": {
            "rows": [{"name": r.name, "kind": r.kind, "params": r.params} for r in run_flow.rows],
            "norms": _b64(norms),
        },
    }
