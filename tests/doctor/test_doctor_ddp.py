"""The doctor's rule for parameters of a DistributedDataParallel module that no backward call
reached: named, with the indices DDP's own error gives them and what its two options do."""

from __future__ import annotations

from graphviz_autograd.doctor.findings import EXPLAINS_FAILURE
from graphviz_autograd.doctor.observations import Call, Observations
from graphviz_autograd.doctor.rules import diagnose
from graphviz_autograd.model import Source

CALL = Call("1", Source("train.py", 25, "loss.backward()"))
BODY, EXTRA_W, EXTRA_B, OTHER = 1, 2, 3, 4
NAMES = {
    BODY: "model.module.body.weight",
    EXTRA_W: "model.module.extra.weight",
    EXTRA_B: "model.module.extra.bias",
    OTHER: "head.weight",
}


def test_unused_ddp_parameters_are_named_with_ddps_indices() -> None:
    seen = Observations(
        calls=(CALL,),
        params={BODY: True, EXTRA_W: True, EXTRA_B: True, OTHER: True},
        names=NAMES,
        reached=frozenset({BODY}),
        ddp_index={BODY: 0, EXTRA_W: 4, EXTRA_B: 5},
    )
    ddp, plain = diagnose(seen, {})
    assert ddp.code == "ddp-unused-param" and ddp.severity == "error"
    assert ddp.params == ("model.module.extra.weight", "model.module.extra.bias")
    assert ddp.message.endswith(
        '"Expected to have finished reduction in the prior iteration" ("Parameter indices '
        'which did not receive grad for rank N: 4 5").'
    )
    assert "find_unused_parameters=True) walks the autograd graph" in ddp.hint
    assert "static_graph=True" in ddp.hint
    assert ddp.source == CALL.source
    assert ddp.code in EXPLAINS_FAILURE  # DDP's error at the next forward is this
    # a parameter outside DDP stays an ordinary unused one
    assert plain.code == "unused-param" and plain.params == ("head.weight",)
