"""Folding identical blocks in series: the layers of a transformer, the body of an unrolled
loop, drawn once with counts. The blocks come from `blocks`, their signatures from
`signatures`, the repeats among them from `periods`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Final

from ...errors import GradvizError
from ...model import Graph, Node
from .adjacency import Adjacency, rebuild
from .blocks import Blocks, find_blocks
from .periods import Run, periodic_runs
from .signatures import block_encoder

__all__ = ["MAX_PERIOD", "fold_series", "step"]

MAX_PERIOD: Final = 16
"""`fold_series` looks for blocks of up to this many segments (a transformer layer has 4)."""

_APART_TRIES: Final = 3
"""How many fan thresholds `step` tries, largest first."""


def fold_series(graph: Graph, *, max_period: int = MAX_PERIOD) -> Graph:
    """Fold identical blocks in series (the layers of a transformer) into one, with counts.

    *Shared* nodes are those with two or more distinct consumers whose inputs are all shared:
    a parameter used by every step of a loop, its transpose. A node ``v`` is *closed* when
    everything upstream of it, shared nodes aside, feeds the rest of the graph only through
    ``v``: a layer's output, a parameter leaf, each node of a plain chain. Closed nodes nest.
    The *spine* input of a closed node is the largest closed node nested in it (the previous
    layer); following spines from an outermost closed node gives a path ``c0 <- c1 <- ...``
    cut into *blocks*: the block of ``ci`` is what is upstream of ``ci`` but not of ``c(i+1)``,
    side branches such as a layer's own parameters included, shared nodes excluded.

    Each block gets a canonical signature: its nodes serialised depth-first in input (edge)
    order, side branches by their own signature, the spine input as a placeholder and shared
    nodes by identity. Where the signatures along a path repeat with a period of ``p`` blocks
    (``p`` from 1 to ``max_period``, smallest first) ``r >= 2`` times, the first ``p`` blocks
    (nearest to the root) stay, with the counts of their nodes multiplied by ``r``; the other
    blocks are dropped, and the spine input of the last dropped block feeds the kept blocks in
    its place. The side branches of kept blocks are searched the same way, after the path that
    holds them. Blocks holding a root or ``first_nonfinite`` never fold. Returns ``graph``
    itself when nothing folds.

    One pass folds each run of repeats once: repeats of repeats (a loop body made of two
    identical halves and a third part) need a second pass, which `fold` makes. Blocks that also
    share a non-trivial upstream node (the ``unbind`` that gives each step of an RNN its slice
    of the input) are not closed, and blocks whose outputs all feed one node (the ``stack`` of
    every step's output) nest badly; when nothing folds, the search is made again with the nodes
    of the most distinct consumers, or inputs, set apart (cut from the blocks, referred to by
    identity in their signatures): the largest such number first, then the next, three at most.
    """
    if max_period < 1:
        raise GradvizError(f"max_period must be positive, not {max_period}")
    return step(Adjacency(graph), max_period) or graph


def step(adj: Adjacency, max_period: int = MAX_PERIOD) -> Graph | None:
    """`fold_series` on the graph of ``adj``; None when nothing folds. Blocks in series; when
    none fold, again with the most-read and most-fed nodes set apart (`_fold_apart`)."""
    if adj.n < 3 or adj.topological() is None:
        return None
    folded = _fold_apart(adj, max_period, 0)
    if folded is not None:
        return folded
    for threshold in _fan_thresholds(adj)[:_APART_TRIES]:
        folded = _fold_apart(adj, max_period, threshold)
        if folded is not None:
            return folded
    return None


def _fan_thresholds(adj: Adjacency) -> list[int]:
    """The distinct numbers of distinct consumers, and of distinct inputs, of 3 or more, largest
    first."""
    src, dst, out_start, out_edges = adj.src, adj.dst, adj.out_start, adj.out_edges
    fans = {
        len({dst[e] for e in out_edges[out_start[v] : out_start[v + 1]]})
        for v in range(adj.n)
        if adj.out_deg[v] >= 3
    }
    fans.update(len({src[e] for e in adj.ins(v)}) for v in range(adj.n) if adj.in_deg[v] >= 3)
    return sorted((f for f in fans if f >= 3), reverse=True)


def _fold_apart(adj: Adjacency, max_period: int, fan: int) -> Graph | None:
    """`fold_series`, with ``fan`` > 0: nodes read by at least ``fan`` distinct consumers (a
    loop's input sliced per step by ``unbind``) and nodes fed by at least ``fan`` distinct
    inputs (the ``stack`` of a loop's outputs) are set apart: their edges to or from other nodes
    are left out of the blocks, each block refers to them by identity, and they are folded as
    blocks of their own."""
    order = adj.topological()
    assert order is not None  # checked by step
    blocks = find_blocks(adj, order, fan)
    if blocks is None:
        return None
    return _fold_runs(adj, blocks, max_period)


def _fold_runs(adj: Adjacency, blocks: Blocks, max_period: int) -> Graph | None:
    """Along each path, the first blocks of each periodic run kept with counts, the others
    dropped; None when no path has a run."""
    encode = block_encoder(adj, blocks)
    spine = blocks.spine
    counts = [node.count for node in adj.graph.nodes]
    dead = bytearray(adj.n)
    src_map: dict[int, int] = {}
    renamed: dict[int, Node] = {}
    for path in blocks.paths:
        if dead[path[0]]:
            continue  # inside a block that an outer path dropped
        seq = [encode(v, spine[v]) for v in path]
        for run in periodic_runs(seq, max_period):
            keep = path[run.start]
            first_drop = path[run.start + run.period]
            next_kept = path[run.start + run.repeats * run.period]
            for u in blocks.between(first_drop, next_kept):
                dead[u] = 1
            for u in blocks.between(keep, first_drop):
                counts[u] *= run.repeats
            src_map[first_drop] = next_kept  # the spine input of the last dropped block
            renamed.update(_named_for_the_run(adj, blocks, path, run))
    return rebuild(adj, dead, counts, src_map=src_map, renamed=renamed) if src_map else None


def _named_for_the_run(
    adj: Adjacency, blocks: Blocks, path: list[int], run: Run
) -> dict[int, Node]:
    """The kept nodes of ``run`` named for every repeat they stand for: where the repeats lie
    in modules whose paths differ in one number only (``model.h.19``, ``model.h.18``, ...
    ``model.h.0``: the layers of a list), the kept one's modules and parameter names say
    ``model.h.0–19``, one part of a path, not ``model.h.19`` beside counts of ×20. Nothing
    when the repeats are not so (the steps of a loop inside one module)."""
    nodes = adj.graph.nodes
    roots = []
    for j in range(run.repeats):
        outer = path[run.start + j * run.period]
        inner = path[run.start + (j + 1) * run.period]
        roots.append(_common_module(_paths(nodes[u] for u in blocks.between(outer, inner))))
    if None in roots:
        return {}
    parts = [root.split(".") for root in roots if root is not None]
    if len({len(p) for p in parts}) != 1:
        return {}
    differ = [k for k in range(len(parts[0])) if len({p[k] for p in parts}) > 1]
    if len(differ) != 1 or differ[0] == 0:
        return {}
    (k,) = differ
    if not all(p[k].isdigit() for p in parts) or len({p[k] for p in parts}) != len(parts):
        return {}
    numbers = [int(p[k]) for p in parts]
    kept = ".".join(parts[0][: k + 1])  # model.h.19 of model.h.19.attn
    span = f"{'.'.join(parts[0][:k])}.{min(numbers)}–{max(numbers)}"  # one part: model.h.0–19

    def renamed(text: str | None) -> str | None:
        if text is None or not (text == kept or text.startswith(kept + ".")):
            return text
        return span + text[len(kept) :]

    out: dict[int, Node] = {}
    for u in blocks.between(path[run.start], path[run.start + run.period]):
        node = nodes[u]
        module, name = renamed(node.module), renamed(node.name)
        if module != node.module or name != node.name:
            out[u] = node._replace(module=module, name=name)
    return out


def _paths(nodes: Iterable[Node]) -> Iterator[str]:
    """The module paths ``nodes`` lie in: each one's module, and for a parameter its owner
    (``layers.5.linear1`` of ``layers.5.linear1.weight``), so that a graph walked without
    modules (`build_graph` with ``params``) is named by its parameters."""
    for node in nodes:
        if node.module is not None:
            yield node.module
        if node.kind == "leaf" and node.name is not None and "." in node.name:
            yield node.name.rpartition(".")[0]


def _common_module(modules: Iterable[str]) -> str | None:
    """The longest module path that every one of ``modules`` lies in; None when there is
    none."""
    common = os.path.commonprefix([module.split(".") for module in modules])
    return ".".join(common) if common else None
