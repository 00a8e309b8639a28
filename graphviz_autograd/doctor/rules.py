"""The doctor's rules: `Observations` in, `Finding`\\ s out, with all their text.

Pure functions, no torch: `diagnose` runs every rule in the order findings are listed (errors
first, then warnings, then infos; in each, failures explained, non-finite values, cut and
unused parameters, frozen ones, accumulation, ``.grad`` of non-leaves, the gradient slope).
The rules for a failed ``backward`` call are in `failures`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from ..model import COMPILED_OP, Graph, Node, region_of
from ..text import count_of, listed, one_or_many
from .failures import explain
from .findings import Finding, NodeRef, Severity
from .observations import (
    Birth,
    Cut,
    ModuleNorm,
    NoGraph,
    NonfiniteGrad,
    NonleafRead,
    Observations,
    Slope,
    named,
)
from .training import (
    grad_accumulation,
    idle_params,
    not_in_optimizer,
    scaler_steps,
    zeroed_before_step,
)

__all__ = ["FACTOR", "diagnose", "slope_of", "with_ids"]

FACTOR: Final = 1e4
"""`vanishing` / `exploding`: the gradient norm of the first module with parameters (in forward
order) and that of the last differ by more than this factor in one backward call."""

_STDLIB: Final = os.path.dirname(os.__file__) + os.sep
_ORDER: Final[dict[Severity, int]] = {"error": 0, "warning": 1, "info": 2}
_SLOPE_HINTS: Final = {
    "vanishing": "Use ReLU-like activations, normalisation layers, residual connections or an "
    "initialisation suited to the activation.",
    "exploding": "Lower the initial weights or the activation's slope, normalise between "
    "layers, or clip gradients (torch.nn.utils.clip_grad_norm_).",
}
_FLOW_HINT: Final = " `gradviz flow SCRIPT` shows every layer's gradient norm at every call."
"""Where a slope finding's advice points to see the layers over the whole run."""


def diagnose(seen: Observations, graphs: Mapping[str, Graph]) -> list[Finding]:
    """Every finding, errors first. ``graphs``: the recorded graph of each call, by name."""
    found = [with_ids(explain(failure), graphs.get(failure.call.name)) for failure in seen.failures]
    if seen.births:
        found += [nonfinite_forward(birth) for birth in seen.births]
    elif seen.nonfinite_grad is not None and seen.scaler is None:
        trouble = seen.nonfinite_grad
        found.append(nonfinite_grad(trouble, graphs.get(trouble.call), seen.names))
    intended: list[Cut] = []
    if seen.calls and (seen.reached or not seen.failures):  # not when every call failed
        blamed = blamed_cuts(seen)
        intended = [c for c in blamed if seen.held and not any(k in seen.held for k in c.leaves)]
        explained = {f.cut for f in seen.failures if isinstance(f, NoGraph)}  # said there
        found += [
            detached(cut, seen.names)
            for cut in blamed
            if cut not in intended and cut.at not in explained
        ]
        found += unused_params(seen, {key for cut in blamed for key in cut.leaves})
    found += frozen_params(seen, intended)
    found += grad_accumulation(seen)
    found += zeroed_before_step(seen)
    found += not_in_optimizer(seen)
    found += scaler_steps(seen)
    found += idle_params(seen)
    found += [non_leaf_grad(read) for read in seen.nonleaf_reads]
    if seen.slope is not None:
        found.append(slope_finding(seen.slope, seen.module_paths, seen.normalised))
    return sorted(found, key=lambda f: _ORDER[f.severity])


# -- non-finite values ---------------------------------------------------------------------------


def nonfinite_forward(birth: Birth) -> Finding:
    what = ", ".join(f"{n} {w}" for n, w in ((birth.nan, "NaN"), (birth.inf, "Inf")) if n)
    return Finding(
        "nonfinite-forward",
        f"{birth.op} made {what} of {birth.total} values from finite inputs, and they reached "
        "the loss.",
        "Keep the op's inputs in its domain (clamp before log/sqrt, add an epsilon "
        "to denominators) or mask them before the op, not after.",
        nodes=(NodeRef(None, birth.node, None, birth.source),) if birth.node else (),
        source=birth.source,
    )


def _ran(graph: Graph, node: Node) -> Node:
    """The node the engine ran for ``node``: itself, or for an op of an opened compiled region
    (which ran as part of it), the region's node."""
    region = region_of(node.module) if node.order is None else None
    if region is None:
        return node
    heads = (n for n in graph.nodes if n.op == COMPILED_OP and n.module == region)
    return next(heads, node)


def nonfinite_grad(
    trouble: NonfiniteGrad, graph: Graph | None, names: Mapping[int, str]
) -> Finding:
    """``graph``: the recorded graph of the call, which may know the node whose gradient was
    first non-finite and the one that passed it on."""
    nodes: tuple[NodeRef, ...] = ()
    detail = ""
    if graph is not None and graph.first_nonfinite is not None:
        node = graph.node(graph.first_nonfinite)
        neighbours = [
            _ran(graph, graph.node(e.dst) if e.src == node.id else graph.node(e.src))
            for e in graph.outputs(node.id) + graph.inputs(node.id)
        ]
        makers = [
            m
            for m in neighbours
            if m.order is not None and node.order is not None and m.order < node.order
        ]
        nodes = tuple(NodeRef(m.id, m.op or "leaf", m.name, m.source) for m in makers[:1])
        nodes += (NodeRef(node.id, node.op or "leaf", node.name, node.source),)
        if makers:
            maker = makers[0]
            at = f" (line {maker.source.line})" if maker.source is not None else ""
            region = f" ({region_of(maker.module)})" if maker.op == COMPILED_OP else ""
            detail = f": {maker.op}{region}{at} passed a non-finite gradient to {node.op}"
        else:
            detail = f": first at {node.op}"
    leaves = named(names, trouble.leaves)
    return Finding(
        "nonfinite-grad",
        f"Backward call {trouble.call} made non-finite gradients{detail}; the forward pass was "
        f"finite. Affected: {listed(leaves)}.",
        "A function with an infinite slope at its input (sqrt or norm at 0, log at 0, "
        "pow with a fractional exponent at 0): add an epsilon, or clamp the input.",
        params=leaves,
        nodes=nodes,
        source=nodes[0].source if nodes else None,
    )


# -- parameters no backward call reached ---------------------------------------------------------


def blamed_cuts(seen: Observations) -> list[Cut]:
    """Each cut with the leaves it explains: those no call reached that no earlier cut
    explains, among the parameters of the modules that ran and the tensors the script named
    (not, say, the template layer nn.TransformerEncoder deep-copies and never runs)."""
    out: list[Cut] = []
    explained: set[int] = set()
    for cut in seen.cuts:
        if cut.at.source is not None and cut.at.source.file.startswith(_STDLIB):
            continue  # copy.deepcopy reads .data: no forward pass cut anything there
        keys = tuple(
            k
            for k in cut.leaves
            if k not in seen.reached
            and k not in explained
            and (k in seen.params or k in seen.names)
        )
        if keys:
            explained.update(keys)
            out.append(Cut(cut.at, keys))
    return out


def detached(cut: Cut, names: Mapping[int, str]) -> Finding:
    how, source = cut.at.how, cut.at.source
    params = named(names, cut.leaves)
    where = f" at line {source.line}" if source is not None else ""
    n = len(params)
    return Finding(
        "detached",
        f"{listed(params)} {one_or_many(n, 'reaches', 'reach')} the loss only through {how}"
        f"{where}: no backward call reached {one_or_many(n, 'it', 'them')}.",
        f"Remove the {how} if {one_or_many(n, 'this parameter', 'these parameters')} should "
        f"learn; if {one_or_many(n, 'it', 'they')} should not, set requires_grad_(False) on "
        f"{one_or_many(n, 'it', 'them')} to say so.",
        params=params,
        source=source,
    )


def unused_params(seen: Observations, explained: set[int]) -> list[Finding]:
    """Parameters needing grad that no call reached and no cut explains."""
    unused = [
        k
        for k, requires_grad in seen.params.items()
        if requires_grad and k not in seen.reached and k not in explained
    ]
    found = ddp_unused(seen, [k for k in unused if k in seen.ddp_index])
    unused = [k for k in unused if k not in seen.ddp_index]
    if not unused:
        return found
    params = named(seen.names, unused)
    return found + [
        Finding(
            "unused-param",
            f"{listed(params)} {one_or_many(len(params), 'requires', 'require')} grad but no "
            f"backward call reached {one_or_many(len(params), 'it', 'them')}.",
            "Use them in forward, or delete them (or set requires_grad_(False)); "
            "with DistributedDataParallel, unused parameters need "
            "find_unused_parameters=True.",
            params=params,
            source=seen.calls[0].source,
        )
    ]


def ddp_unused(seen: Observations, unused: list[int]) -> list[Finding]:
    """Parameters of a DDP module that a backward call left without a gradient: DDP stops at
    the next forward, naming them by index only."""
    if not unused:
        return []
    params = named(seen.names, unused)
    indices = " ".join(str(seen.ddp_index[k]) for k in unused)
    return [
        Finding(
            "ddp-unused-param",
            f"{listed(params)} require grad but no backward call reached them: "
            "DistributedDataParallel waits for their gradients, and raises at the next forward "
            f'"Expected to have finished reduction in the prior iteration" ("Parameter indices '
            f'which did not receive grad for rank N: {indices}").',
            "Use them in forward, or set requires_grad_(False) on them before wrapping the model "
            "in DDP. Else DistributedDataParallel(..., find_unused_parameters=True) walks the "
            "autograd graph from the forward's outputs after each forward and marks the "
            "parameters it does not reach as ready (a walk per iteration); static_graph=True "
            "says the same parameters are used (and unused) in every iteration: DDP learns "
            "them in the first and skips the walk after.",
            params=params,
            source=seen.calls[0].source,
        )
    ]


def frozen_params(seen: Observations, intended: Sequence[Cut]) -> list[Finding]:
    """Parameters that need no grad, one finding per top-most module whose parameters all
    are; and parameters behind a cut that no stepping optimizer holds (``intended``): frozen
    by intent, as a linear probe's backbone under ``torch.no_grad()``."""
    everything = named(seen.names, seen.params)
    frozen = named(seen.names, [k for k, needs in seen.params.items() if not needs])
    found = [
        Finding(
            "frozen-param",
            f"{_group(top, leaves)} frozen, requires_grad=False.",
            "Intended when fine-tuning part of a model; otherwise set requires_grad_(True).",
            params=leaves,
        )
        for top, leaves in _tops(everything, frozen).items()
    ]
    for cut in intended:
        names = named(seen.names, cut.leaves)
        where = f" at line {cut.at.source.line}" if cut.at.source is not None else ""
        found += [
            Finding(
                "frozen-param",
                f"{_group(top, leaves)} reach the loss only through {cut.at.how}{where}, and "
                "no optimizer holds them: frozen by intent.",
                "Nothing to do; set requires_grad_(False) on them to skip the cut.",
                params=leaves,
                source=cut.at.source,
            )
            for top, leaves in _tops(everything, names).items()
        ]
    return found


def _tops(everything: Sequence[str], chosen: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The ``chosen`` parameter names grouped by the top-most module all of whose parameters
    (among ``everything``) are chosen; by their own module where it has others."""
    picked = set(chosen)
    mixed = {p for name in everything if name not in picked for p in _modules_of(name)}
    groups: dict[str, list[str]] = {}
    for name in chosen:
        top = next((p for p in _modules_of(name) if p not in mixed), None)
        groups.setdefault(top if top is not None else name.rpartition(".")[0], []).append(name)
    return {top: tuple(names) for top, names in groups.items()}


def _modules_of(name: str) -> list[str]:
    """The module paths above a parameter name, top-most first: ``a.b.w`` -> ``a``, ``a.b``."""
    parts = name.split(".")[:-1]
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _group(top: str, names: tuple[str, ...]) -> str:
    """``model.bert: 199 parameters`` or ``fc: 2 parameters (weight, bias)``."""
    head = (
        f"{top}: {count_of(len(names), 'parameter')}" if top else count_of(len(names), "parameter")
    )
    if len(names) > 6:
        return head
    short = (name.removeprefix(f"{top}.") for name in names) if top else names
    return f"{head} ({', '.join(short)})"


# -- gradients -----------------------------------------------------------------------------------


def non_leaf_grad(read: NonleafRead) -> Finding:
    what = read.name or "a tensor"
    return Finding(
        "non-leaf-grad",
        f"The script reads .grad of {what} (shape {read.shape}), which is not a leaf: "
        "it stays None.",
        f"Call {what}.retain_grad() before backward to keep its gradient, or read "
        "the .grad of the leaf (parameter) instead.",
        source=read.source,
    )


def slope_of(call: str, norms: Sequence[ModuleNorm]) -> Slope | None:
    """``vanishing`` or ``exploding`` when the first and last of the ``norms`` (modules in
    forward order) differ by more than `FACTOR`; else None."""
    if len(norms) < 2:
        return None
    first, last = norms[0], norms[-1]
    if last.norm > 0 and first.norm / last.norm > FACTOR:
        return Slope("exploding", call, first.norm / last.norm, first, last)
    if (first.norm == 0 or last.norm / first.norm > FACTOR) and last.norm > 0:
        return Slope("vanishing", call, last.norm / max(first.norm, 1e-300), first, last)
    return None


def slope_finding(slope: Slope, paths: Mapping[int, str], normalised: bool = False) -> Finding:
    """``paths``: the path of each module of ``slope`` by key, ``"?"`` when unknown;
    ``normalised``: the model has normalisation layers (advice to add them would be void)."""
    first, last = slope.first, slope.last
    hint = _SLOPE_HINTS[slope.kind]
    if normalised and slope.kind == "vanishing":
        hint = (
            f"The model normalises between layers already: check the initialisation and the "
            f"learning rate of {paths[first.module]}, and whether it is meant to learn this "
            "little (a pretrained or frozen stem)."
        )
    hint += _FLOW_HINT
    return Finding(
        slope.kind,
        f"In backward call {slope.call} the gradient norm of {paths[first.module]} (first "
        f"module) is {first.norm:.3g} and that of {paths[last.module]} (last module) "
        f"{last.norm:.3g}: a factor of {slope.ratio:.3g} (more than {FACTOR:g}).",
        hint,
        params=tuple(path for path in (paths[first.module], paths[last.module]) if path != "?"),
    )


def with_ids(finding: Finding, graph: Graph | None) -> Finding:
    """``finding`` with the id of each of its nodes found in ``graph`` (the recorded graph of
    the call it is about): the node with the same op made at the same line."""
    if graph is None or not finding.nodes:
        return finding
    ids = {(n.op, n.source.file, n.source.line): n.id for n in graph.nodes if n.source}
    nodes = tuple(
        replace(ref, id=ids.get((ref.op, ref.source.file, ref.source.line)))
        if ref.id is None and ref.source is not None
        else ref
        for ref in finding.nodes
    )
    return replace(finding, nodes=nodes)
