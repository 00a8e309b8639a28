"""The doctor's rules on hand-built observations: every finding code, its exact text, where it
points and the order findings come in. No tensors: the rules are pure functions."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

from graphviz_autograd.doctor import CODES, Finding, NodeRef
from graphviz_autograd.doctor.failures import explain
from graphviz_autograd.doctor.observations import (
    Birth,
    Call,
    Cut,
    CutAt,
    EmptiedStep,
    FreedTwice,
    InPlace,
    InplaceModified,
    ModuleNorm,
    NoGraph,
    NonfiniteGrad,
    NonleafRead,
    NonScalar,
    Observations,
    ScalerPath,
    Site,
    Slope,
    VersionClash,
)
from graphviz_autograd.doctor.rules import FACTOR, diagnose, slope_of, with_ids
from graphviz_autograd.doctor.training import STALLED
from graphviz_autograd.model import Edge, Graph, Node, Source

DOCTOR = Path(__file__).resolve().parents[2] / "graphviz_autograd" / "doctor"
TRAIN = "/home/me/train.py"


def at(line: int, code: str = "") -> Source:
    return Source(TRAIN, line, code)


CALL_1 = Call("1", at(14, "loss.backward()"))
CALL_2 = Call("2", at(15, "loss.backward()"))
W, B, SPARE = 0x10, 0x20, 0x30  # keys (ids) of parameters
NAMES = {W: "model.weight", B: "model.bias", SPARE: "model.spare.weight"}


def only(seen: Observations, graphs: dict[str, Graph] | None = None) -> Finding:
    (finding,) = diagnose(seen, graphs or {})
    return finding


# -- a backward call that raised ---------------------------------------------------------------


def test_backward_twice_names_the_call_that_freed_the_graph_and_the_node() -> None:
    node = NodeRef(None, "ExpBackward0", None, at(12, "y = x.exp()"))
    finding = explain(FreedTwice(CALL_2, node, CALL_1))
    assert finding.code == "backward-twice" and finding.severity == "error"
    assert finding.message == (
        "Backward call 2 ran through a graph that call 1 (line 14) had already freed: "
        "ExpBackward0's saved tensors were gone."
    )
    assert finding.hint.startswith("Pass retain_graph=True to the first backward call")
    assert finding.nodes == (node,) and finding.source == CALL_2.source


def test_backward_twice_without_the_node_or_the_earlier_call() -> None:
    finding = explain(FreedTwice(CALL_2, None, Call("1", None)))
    assert finding.message == (
        "Backward call 2 ran through a graph that an earlier call had already freed: it were gone."
    )
    assert finding.nodes == ()


def test_inplace_modified_names_the_saver_the_write_and_the_versions() -> None:
    saver = NodeRef(None, "ExpBackward0", None, at(12))
    write = NodeRef(None, "add_", None, at(13))
    finding = explain(InplaceModified(CALL_1, saver, write, VersionClash("Exp", 1, 0)))
    assert finding.code == "inplace-modified"
    assert finding.message == (
        "ExpBackward0 saved a tensor for backward that was then modified in place by add_ "
        "at line 13 (version 1, expected 0)."
    )
    assert finding.hint == (
        "Use the out-of-place op (x = x + 1, not x += 1 / x.add_(1)), or clone() the tensor "
        "before modifying it."
    )
    assert finding.nodes == (saver, write) and finding.source == CALL_1.source


def test_inplace_modified_knowing_nothing_more() -> None:
    finding = explain(InplaceModified(CALL_1, None, None, None))
    assert finding.message == "A tensor was saved for backward that was then modified in place."
    assert finding.nodes == ()


@pytest.mark.parametrize(
    ("how", "hint"),
    [
        ("torch.no_grad()", "Compute it with grad on: move the forward out of torch.no_grad()."),
        (".detach()", "Do not cut the graph with .detach() on the way to the loss."),
    ],
    ids=["no_grad", "detach"],
)
def test_no_graph_points_at_the_cut(how: str, hint: str) -> None:
    cut = CutAt(how, at(17, "pred = model(x)"))
    finding = explain(NoGraph(CALL_1, "loss", cut, False))
    assert finding.code == "no-graph"
    assert (
        finding.message
        == f"backward() on loss, which has no graph: it comes from {how} at line 17."
    )
    assert finding.hint == hint
    assert finding.nodes == (NodeRef(None, "cut", None, cut.source),)
    assert finding.source == CALL_1.source


def test_no_graph_under_inference_mode_or_from_no_parameter() -> None:
    inference = explain(NoGraph(CALL_1, "the tensor", None, True))
    assert inference.message == (
        "backward() on the tensor, which has no graph: it was made under torch.inference_mode()."
    )
    assert inference.hint == "Compute the loss outside torch.inference_mode()."
    plain = explain(NoGraph(CALL_1, "loss", None, False))
    assert plain.message == (
        "backward() on loss, which has no graph: none of the tensors it was computed from "
        "requires grad."
    )
    assert plain.hint == (
        "Create the parameters with requires_grad=True (or as nn.Parameter in a module)."
    )
    assert inference.nodes == plain.nodes == ()


def test_non_scalar_backward_says_how_to_reduce() -> None:
    finding = explain(NonScalar(CALL_1, "y", (3,)))
    assert finding.code == "non-scalar-backward"
    assert finding.message == "backward() on y of shape (3,), not a scalar, without gradient=."
    assert finding.hint == (
        "Reduce it first (y.sum().backward() or .mean()), or pass gradient= with its shape: "
        "y.backward(torch.ones_like(y))."
    )


def test_failures_get_the_ids_of_their_nodes_in_the_calls_graph() -> None:
    saver = NodeRef(None, "ExpBackward0", None, at(12))
    graph = Graph(
        (Node("n0", "op", op="ExpBackward0", source=at(12)), Node("n1", "leaf", name="x")),
        (Edge("n1", "n0", 0),),
        ("n0",),
    )
    seen = Observations(calls=(CALL_1,), failures=(FreedTwice(CALL_1, saver, None),))
    assert only(seen, {"1": graph}).nodes == (NodeRef("n0", "ExpBackward0", None, at(12)),)
    assert with_ids(explain(seen.failures[0]), None).nodes == (saver,)


# -- non-finite values -------------------------------------------------------------------------


def test_nonfinite_forward_names_the_op_and_counts() -> None:
    finding = only(Observations(births=(Birth("log", "LogBackward0", 1, 0, 3, at(14)),)))
    assert finding.code == "nonfinite-forward"
    assert finding.message == (
        "log made 1 NaN of 3 values from finite inputs, and they reached the loss."
    )
    assert finding.nodes == (NodeRef(None, "LogBackward0", None, at(14)),)
    assert finding.source == at(14)
    both = only(Observations(births=(Birth("div", None, 2, 1, 4, None),)))
    assert both.message.startswith("div made 2 NaN, 1 Inf of 4 values")
    assert both.nodes == ()


def test_nonfinite_forward_outranks_a_nonfinite_gradient() -> None:
    seen = Observations(
        births=(Birth("log", None, 1, 0, 3, None), Birth("sqrt", None, 2, 0, 4, at(20))),
        nonfinite_grad=NonfiniteGrad("1", (W,)),
    )
    found = diagnose(seen, {})
    assert [f.code for f in found] == ["nonfinite-forward", "nonfinite-forward"]  # every one
    assert found[1].source == at(20)


def test_nonfinite_grad_names_the_node_that_passed_it_on() -> None:
    graph = Graph(
        (
            Node("n0", "op", op="SqrtBackward0", order=1, source=at(14)),
            Node("n1", "op", op="SumBackward0", name="squared", order=2, source=at(13)),
            Node("n2", "leaf", name="a", order=3),
        ),
        (Edge("n1", "n0", 0), Edge("n2", "n1", 0)),
        ("n0",),
        first_nonfinite="n1",
    )
    finding = only(Observations(nonfinite_grad=NonfiniteGrad("1", (W,))), {"1": graph})
    assert finding.code == "nonfinite-grad"
    assert finding.message == (
        "Backward call 1 made non-finite gradients: SqrtBackward0 (line 14) passed a "
        "non-finite gradient to SumBackward0; the forward pass was finite. Affected: "
        "<tensor 0x10>."
    )
    assert finding.nodes == (
        NodeRef("n0", "SqrtBackward0", None, at(14)),
        NodeRef("n1", "SumBackward0", "squared", at(13)),
    )
    assert finding.source == at(14) and finding.params == ("<tensor 0x10>",)


def test_nonfinite_grad_without_a_graph_lists_the_leaves() -> None:
    keys = tuple(range(1, 9))
    names = {k: f"p{k}" for k in keys}
    finding = only(Observations(nonfinite_grad=NonfiniteGrad("2", keys), names=names))
    assert finding.message == (
        "Backward call 2 made non-finite gradients; the forward pass was finite. "
        "Affected: p1, p2, p3, p4, p5, p6 and 2 more."
    )
    assert finding.nodes == () and finding.source is None and len(finding.params) == 8


def test_nonfinite_grad_at_the_first_node_run() -> None:
    graph = Graph((Node("n0", "op", op="MulBackward0", order=1),), (), ("n0",), (), "n0")
    finding = only(Observations(nonfinite_grad=NonfiniteGrad("1", ())), {"1": graph})
    assert "made non-finite gradients: first at MulBackward0;" in finding.message
    assert finding.nodes == (NodeRef("n0", "MulBackward0", None, None),)


# -- parameters ---------------------------------------------------------------------------------


def test_detached_parameters_name_the_cut() -> None:
    cut = Cut(CutAt(".detach()", at(17)), (W, B))
    finding = only(
        Observations(calls=(CALL_1,), cuts=(cut,), params={W: True, B: True}, names=NAMES)
    )
    assert finding.code == "detached"
    assert finding.message == (
        "model.weight, model.bias reach the loss only through .detach() at line 17: no "
        "backward call reached them."
    )
    assert finding.hint == (
        "Remove the .detach() if these parameters should learn; if they should not, set "
        "requires_grad_(False) on them to say so."
    )
    assert finding.params == ("model.weight", "model.bias") and finding.source == at(17)


def test_a_cut_explains_only_unreached_known_leaves_once() -> None:
    first = Cut(CutAt(".data", None), (W, 0x99))  # 0x99: neither a parameter nor named
    second = Cut(CutAt("torch.no_grad()", at(20)), (W, B))
    reached_b = Observations(
        calls=(CALL_1,), cuts=(first, second), params={W: True, B: True}, names=NAMES
    )
    found = diagnose(reached_b, {})
    assert [(f.code, f.params) for f in found] == [
        ("detached", ("model.weight",)),
        ("detached", ("model.bias",)),
    ]
    assert found[0].message.startswith("model.weight reaches the loss only through .data: ")
    stdlib = Cut(CutAt(".data", Source(ast.__file__, 1, "")), (W,))
    copied = Observations(calls=(CALL_1,), cuts=(stdlib,), params={W: True}, names=NAMES)
    assert [f.code for f in diagnose(copied, {})] == ["unused-param"]


def test_unused_parameters_point_at_the_first_call() -> None:
    seen = Observations(
        calls=(CALL_1, CALL_2),
        params={W: True, B: True, SPARE: True},
        names=NAMES,
        reached=frozenset({W, B}),
    )
    finding = only(seen)
    assert finding.code == "unused-param"
    assert finding.message == ("model.spare.weight requires grad but no backward call reached it.")
    assert finding.hint == (
        "Use them in forward, or delete them (or set requires_grad_(False)); with "
        "DistributedDataParallel, unused parameters need find_unused_parameters=True."
    )
    assert finding.source == CALL_1.source
    assert diagnose(Observations(params={SPARE: True}, names=NAMES), {}) == []  # no call


def test_frozen_parameters_are_grouped_by_module() -> None:
    names = {1: "model.0.weight", 2: "model.0.bias", 3: "model.2.weight", W: "model.2.bias"}
    seen = Observations(params={1: False, 2: False, 3: False, W: True}, names=names)
    found = diagnose(seen, {})
    assert [f.code for f in found] == ["frozen-param", "frozen-param"]
    assert found[0].severity == "info"
    assert found[0].message == "model.0: 2 parameters (weight, bias) frozen, requires_grad=False."
    assert found[0].hint == (
        "Intended when fine-tuning part of a model; otherwise set requires_grad_(True)."
    )
    assert found[0].params == ("model.0.weight", "model.0.bias")
    assert found[1].params == ("model.2.weight",) and found[0].source is None


def test_a_frozen_model_part_is_one_finding_at_its_top_most_module() -> None:
    """A frozen 12-layer encoder is one line, not one per layer."""
    names = {k: f"model.bert.layer.{k // 4}.{'wb'[k % 2]}{k % 4}" for k in range(48)}
    names[100] = "model.head.weight"
    params = dict.fromkeys(range(48), False) | {100: True}
    (finding,) = diagnose(Observations(params=params, names=names), {})
    assert finding.message == "model.bert: 48 parameters frozen, requires_grad=False."
    assert len(finding.params) == 48


def test_parameters_behind_a_cut_that_no_optimizer_holds_are_frozen_by_intent() -> None:
    """A linear probe: the backbone runs under no_grad, the optimizer holds only the head."""
    cut = Cut(CutAt("torch.no_grad()", at(8, "feats = backbone(x)")), (W, B))
    names = {W: "backbone.0.weight", B: "backbone.0.bias", SPARE: "head.weight"}
    seen = Observations(
        calls=(CALL_1,),
        cuts=(cut,),
        params={W: True, B: True, SPARE: True},
        names=names,
        reached=frozenset({SPARE}),
        steps=1,
        held=frozenset({SPARE}),
    )
    finding = only(seen)
    assert (finding.code, finding.severity) == ("frozen-param", "info")
    assert finding.message == (
        "backbone: 2 parameters (0.weight, 0.bias) reach the loss only through "
        "torch.no_grad() at line 8, and no optimizer holds them: frozen by intent."
    )
    assert finding.source == cut.at.source
    learning = diagnose(
        Observations(
            calls=(CALL_1,),
            cuts=(cut,),
            params={W: True, B: True, SPARE: True},
            names=names,
            reached=frozenset({SPARE}),
            steps=1,
            held=frozenset({W, B, SPARE}),
        ),
        {},
    )
    assert [f.code for f in learning] == ["detached"]  # the optimizer wants them to learn


# -- gradients ---------------------------------------------------------------------------------


def test_grad_accumulation_without_an_optimizer() -> None:
    calls = (CALL_1, CALL_2, Call("3", at(19, "loss.backward()")))
    seen = Observations(
        calls=calls, accumulated={W: ("1", "2", "3"), B: ("1", "2", "3")}, names=NAMES
    )
    finding = only(seen)
    assert finding.code == "grad-accumulation"
    assert finding.message == (
        "The .grad of model.weight, model.bias summed the gradients of calls 1-3: nothing "
        "zeroed it in between."
    )
    assert finding.hint == (
        "Call optimizer.zero_grad() (or set .grad = None) before each backward; if you "
        "accumulate over micro-batches on purpose, zero after each optimizer step."
    )
    assert finding.source == calls[2].source


def test_grad_accumulation_between_steps_is_fine_across_a_step_is_not() -> None:
    between = Observations(
        calls=(CALL_1, CALL_2), accumulated={W: ("1", "2")}, steps=1, held=frozenset({W})
    )
    assert diagnose(between, {}) == []
    across = Observations(
        calls=(CALL_1, CALL_2),
        accumulated={W: ("1", "2")},
        stale={W: ("1", "2")},
        stale_step=at(16, "opt.step()"),
        steps=2,
        held=frozenset({W}),
        names=NAMES,
    )
    assert only(across).message == (
        "The .grad of model.weight summed the gradients of calls 1 and 2, and the optimizer "
        "step at line 16 used it again: nothing zeroed it after the step that used it before."
    )


def test_a_step_after_zero_grad_is_found_at_the_zero_grad_line() -> None:
    step = EmptiedStep(1, 2, "1", at(14), at(15, "opt.zero_grad()"), at(16, "opt.step()"))
    seen = Observations(calls=(CALL_1,), steps=3, emptied=(step, step, step))
    finding = only(seen)
    assert (finding.code, finding.severity) == ("zeroed-before-step", "warning")
    assert finding.message == (
        "Optimizer step 1 (line 16) found the gradients of its 2 parameter(s) zeroed since "
        "backward call 1 (line 14): zero_grad() at line 15 ran between backward and step, so "
        "the step changed nothing. 3 of 3 steps were like this."
    )
    assert finding.source == at(15, "opt.zero_grad()")


def test_parameters_no_stepping_optimizer_holds_are_named_with_their_line() -> None:
    line = at(11, "model.fc = nn.Linear(4, 5)")
    names = {W: "model.fc.weight", B: "model.fc.bias", SPARE: "model.body.weight"}
    seen = Observations(
        calls=(CALL_1,),
        params={W: True, B: True, SPARE: True},
        names=names,
        reached=frozenset({W, B, SPARE}),
        steps=4,
        held=frozenset({SPARE}),
        assigned={W: line, B: line},
    )
    finding = only(seen)
    assert (finding.code, finding.severity) == ("not-in-optimizer", "warning")
    assert finding.message == (
        "model.fc.weight, model.fc.bias get gradients, but no optimizer that stepped holds "
        "them (model.fc was assigned at line 11): they never change."
    )
    assert finding.source == line
    no_optimizer = replace(seen, held=frozenset())
    assert diagnose(no_optimizer, {}) == []  # no optimizer stepped: nothing to hold them


def test_parameters_some_steps_leave_without_a_gradient_are_an_info_with_how_often() -> None:
    seen = Observations(idle={W: (3, 10), B: (5, 10), SPARE: (0, 10)}, names=NAMES)
    finding = only(seen)
    assert (finding.code, finding.severity) == ("idle-param", "info")
    assert finding.message == (
        "model.weight, model.bias got no gradient at 3 to 5 of their 10 optimizer steps: they "
        "are used on some steps only."
    )
    assert only(Observations(idle={W: (2, 4)}, names=NAMES)).message.startswith(
        "model.weight got no gradient at 2 of 4 optimizer steps: it is used"
    )


def test_a_grad_scaler_skipping_steps_is_an_info_and_stalling_a_warning() -> None:
    settling = Observations(scaler=ScalerPath(40, 3, 65536.0, 8192.0, 0))
    finding = only(settling)
    assert (finding.code, finding.severity) == ("scaler-skipped", "info")
    assert finding.message == (
        "GradScaler skipped 3 of 40 steps (non-finite gradients at the scale of the time), "
        "scale 65,536 → 8,192."
    )
    stalled = only(Observations(scaler=ScalerPath(40, 12, 65536.0, 0.5, STALLED)))
    assert (stalled.code, stalled.severity) == ("scaler-stalled", "warning")
    assert stalled.message.startswith(f"GradScaler skipped the last {STALLED} steps in a row")
    quiet = Observations(
        scaler=ScalerPath(40, 3, 1.0, 1.0, 0), nonfinite_grad=NonfiniteGrad("1", (W,))
    )
    assert [f.code for f in diagnose(quiet, {})] == ["scaler-skipped"]  # no nonfinite-grad


def test_non_leaf_grad_read() -> None:
    finding = only(Observations(nonleaf_reads=(NonleafRead("h", (3,), at(16)),)))
    assert finding.code == "non-leaf-grad"
    assert finding.message == (
        "The script reads .grad of h (shape (3,)), which is not a leaf: it stays None."
    )
    assert finding.hint == (
        "Call h.retain_grad() before backward to keep its gradient, or read the .grad of the "
        "leaf (parameter) instead."
    )
    assert finding.source == at(16)
    unnamed = only(Observations(nonleaf_reads=(NonleafRead(None, (2, 2), None),)))
    assert unnamed.message.startswith("The script reads .grad of a tensor (shape (2, 2))")
    assert unnamed.hint.startswith("Call a tensor.retain_grad()")


@pytest.mark.parametrize(
    ("first", "last", "kind", "ratio"),
    [
        (3.56e8, 1.61, "exploding", 3.56e8 / 1.61),
        (1.46e-10, 2.81, "vanishing", 2.81 / 1.46e-10),
        (0.0, 2.0, "vanishing", 2.0 / 1e-300),
        (1.0, 2.0, None, None),
        (0.0, 0.0, None, None),
        (2.0, 0.0, None, None),
    ],
)
def test_slope_of(first: float, last: float, kind: str | None, ratio: float | None) -> None:
    norms = [ModuleNorm(1, first), ModuleNorm(2, 1.0), ModuleNorm(3, last)]
    slope = slope_of("1", norms)
    if kind is None:
        assert slope is None
    else:
        assert slope == Slope(kind, "1", ratio, norms[0], norms[-1])
    assert slope_of("1", norms[:1]) is None


@pytest.mark.parametrize(
    ("kind", "message", "hint"),
    [
        (
            "exploding",
            "In backward call 1 the gradient norm of model.0 (first module) is 3.56e+08 and "
            "that of model.16 (last module) 1.61: a factor of 2.21e+08 (more than 10000).",
            "Lower the initial weights or the activation's slope, normalise between layers, or "
            "clip gradients (torch.nn.utils.clip_grad_norm_). `gradviz flow SCRIPT` shows every "
            "layer's gradient norm at every call.",
        ),
        (
            "vanishing",
            "In backward call 1 the gradient norm of model.0 (first module) is 3.56e+08 and "
            "that of model.16 (last module) 1.61: a factor of 2.21e+08 (more than 10000).",
            "Use ReLU-like activations, normalisation layers, residual connections or an "
            "initialisation suited to the activation. `gradviz flow SCRIPT` shows every layer's "
            "gradient norm at every call.",
        ),
    ],
)
def test_slope_findings(kind: str, message: str, hint: str) -> None:
    slope = Slope(kind, "1", 2.21e8, ModuleNorm(1, 3.56e8), ModuleNorm(2, 1.61))
    finding = only(Observations(slope=slope, module_paths={1: "model.0", 2: "model.16"}))
    assert (finding.code, finding.message, finding.hint) == (kind, message, hint)
    assert finding.params == ("model.0", "model.16") and finding.source is None
    gone = only(Observations(slope=slope, module_paths={1: "?", 2: "model.16"}))
    assert gone.params == ("model.16",) and "norm of ? (first module)" in gone.message
    assert f"{FACTOR:g}" == "10000"


# -- all together ------------------------------------------------------------------------------


def test_every_code_is_covered_here_and_findings_come_errors_first() -> None:
    seen = Observations(
        calls=(CALL_1, CALL_2),
        failures=(NonScalar(CALL_2, "y", (3,)),),
        births=(Birth("log", None, 1, 0, 3, None),),
        cuts=(Cut(CutAt(".detach()", None), (B,)),),
        params={W: True, B: True, SPARE: True, 0x40: False},
        names={**NAMES, 0x40: "model.frozen.weight"},
        reached=frozenset({W}),
        accumulated={W: ("1", "2")},
        nonleaf_reads=(NonleafRead("h", (3,), None),),
        slope=Slope("exploding", "1", 2e4, ModuleNorm(1, 2e4), ModuleNorm(2, 1.0)),
        module_paths={1: "model.0", 2: "model.1"},
    )
    assert [f.code for f in diagnose(seen, {})] == [
        "non-scalar-backward",
        "nonfinite-forward",
        "detached",
        "unused-param",
        "grad-accumulation",
        "non-leaf-grad",
        "exploding",
        "frozen-param",
    ]
    covered = {
        "backward-twice",
        "inplace-modified",
        "no-graph",
        "nonfinite-grad",
        "vanishing",
        "zeroed-before-step",
        "not-in-optimizer",
        "scaler-skipped",
        "scaler-stalled",
        "idle-param",
        "ddp-unused-param",  # tests/doctor/test_doctor_ddp.py
    } | {f.code for f in diagnose(seen, {})}
    assert covered == set(CODES)


def test_rule_modules_do_not_import_torch() -> None:
    for name in ("rules.py", "training.py", "failures.py", "observations.py", "findings.py"):
        tree = ast.parse((DOCTOR / name).read_text())
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("torch", "trace")}, name


def test_write_for_picks_the_write_to_the_tensor_the_op_made() -> None:
    from graphviz_autograd.doctor.backward import version_clash, write_for

    writes = [
        InPlace("mul_", "MulBackward0", 1, Site(TRAIN, 10)),
        InPlace("add_", "ExpBackward0", 1, Site(TRAIN, 13)),
        InPlace("add_", "ExpBackward0", 2, Site(TRAIN, 14)),
        InPlace("zero_", None, 1, None),
    ]
    text = "... which is output 0 of ExpBackward0, is at version 2; expected version 0 instead."
    clash = version_clash(text.replace("ExpBackward0", "Exp"))
    assert clash == VersionClash("Exp", 2, 0)
    assert write_for(clash, writes) == writes[2]
    assert write_for(clash._replace(version=5), writes) == writes[2]  # same op, last
    assert write_for(clash._replace(op="Sin"), writes) == writes[3]  # none: the last write
    assert write_for(None, writes) == writes[3] and write_for(None, []) is None
    assert version_clash("no versions here") is None
