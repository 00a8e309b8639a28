"""`explore(cap)` and `flow(cap)`: a capture's calls as one page, and each layer over them."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from torch import nn

from graphviz_autograd import GradvizError, capture, explore, flow


def _data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="gradviz-data">(.*?)</script>', page)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def _train(steps: int, **options: object) -> tuple[object, list[list[float]]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    x = torch.randn(8, 3)
    norms = []
    with capture(**options) as cap:  # type: ignore[arg-type]
        for _ in range(steps):
            model.zero_grad()
            model(x).pow(2).mean().backward()
            norms.append(
                [
                    math.sqrt(sum(p.grad.norm().item() ** 2 for p in model[k].parameters()))
                    for k in (0, 2)
                ]
            )
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
    return cap, norms


@pytest.mark.parametrize("history", [True, False], ids=["history", "every-call"])
def test_explore_a_capture_is_one_page_with_a_step_per_call(history: bool) -> None:
    cap, _ = _train(5, history=history, modules=True)
    data = _data(explore(cap).html)
    assert data["steps"]["names"] == ["1", "2", "3", "4", "5"]  # type: ignore[index]
    assert data["steps"]["of"] == 5  # type: ignore[index]
    assert cap.explore().html == explore(cap).html  # the method, as in Jupyter


def test_flow_of_a_capture_is_torchs_norms_per_layer() -> None:
    cap, norms = _train(3, history=True, modules=True)
    found = flow(cap)
    assert found.steps == ("1", "2", "3")
    assert [(row.name, row.kind, row.params) for row in found.rows] == [
        ("model.0", "module", 2),
        ("model.2", "module", 2),
    ]
    for k, row in enumerate(found.rows):
        assert row.norms == pytest.approx([step[k] for step in norms], rel=1e-6)
    assert [row.name for row in flow(cap, params=True).rows][:2] == [
        "model.0.weight",
        "model.0.bias",
    ]


def test_explore_a_capture_takes_draw_options_only() -> None:
    cap, _ = _train(1, history=True)
    with pytest.raises(GradvizError, match="show_saved: not taken with a Capture"):
        explore(cap, show_saved=True)
    with pytest.raises(GradvizError, match="no backward call was recorded"):
        with capture(history=True) as empty:
            pass
        explore(empty)


@pytest.mark.parametrize("history", [True, False], ids=["history", "every-call"])
def test_calls_made_inside_another_are_not_steps(history: bool) -> None:
    from torch.utils.checkpoint import checkpoint

    layer = nn.Linear(3, 3)
    with capture(history=history) as cap:
        for _ in range(2):  # a reentrant checkpoint's backward makes a call inside each
            checkpoint(
                layer, torch.ones(2, 3, requires_grad=True), use_reentrant=True
            ).sum().backward()
    assert cap.inner_count == 2
    assert _data(explore(cap).html)["steps"]["names"] == ["1", "2"]  # type: ignore[index]
