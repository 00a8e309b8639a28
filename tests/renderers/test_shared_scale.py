"""--call all shades every call on one scale: a gradient twice as big is darker in any call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import Gradviz

from graphviz_autograd import capture
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.style import GRAD_RAMP, LEAF_RAMP, grad_shades, shared_scale

G_2G_3G = """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
for k in (1.0, 2.0, 3.0):
    hidden = w * 3
    loss = (hidden * k).sum()
    loss.backward()
"""


def every_call(gradviz: Gradviz, folder: Path, script: Path) -> list[str]:
    """The DOT of each of the script's three backward calls, drawn with --call all."""
    done = gradviz("run", script, "-o", "g.dot", "--call", "all", cwd=folder)
    assert done.returncode == 0, done.stderr
    return [(folder / f"g-{n}.dot").read_text() for n in (1, 2, 3)]


def fill_of(dot: str, name: str) -> str:
    match = re.search(rf'label="{name} = [^"]*" fillcolor="(#[0-9a-f]+)"', dot)
    assert match, dot
    return match.group(1)


def test_one_scale_for_all_calls() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with capture() as cap:
        for k in (1.0, 2.0, 3.0):
            hidden = w * 3
            (hidden * k).sum().backward()
    graphs = [c.graph for c in cap.calls]
    # Alone, each graph's `hidden` is at the top of its own scale: all three look alike.
    assert [fill_of(to_dot(g), "hidden") for g in graphs] == [GRAD_RAMP[-1]] * 3
    assert all(grad_shades(g).fills for g in graphs)
    scale = shared_scale(graphs)
    # From hidden's gradient in call 1 to w's .grad after call 3: 3 * (1 + 2 + 3) * [1, 1].
    assert scale == pytest.approx((2**0.5, 18 * 2**0.5))
    fills = [fill_of(to_dot(g, scale=scale), "hidden") for g in graphs]
    assert fills == list(GRAD_RAMP[:3])  # g, 2g, 3g: darker


def test_call_all_shares_the_scale_and_each_legend_gives_it(
    gradviz: Gradviz, tmp_path: Path
) -> None:
    (tmp_path / "s.py").write_text(G_2G_3G)
    dots = every_call(gradviz, tmp_path, tmp_path / "s.py")
    assert [fill_of(d, "hidden") for d in dots] == list(GRAD_RAMP[:3])
    assert all("<td>1.414</td>" in d and "<td>25.46</td>" in d for d in dots)


def test_accumulated_leaf_grads_g_2g_3g_get_darker(gradviz: Gradviz, tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "samples" / "accumulate.py"
    dots = every_call(gradviz, tmp_path, sample)
    fills = [re.search(r'label="w\\n[^"]*" fillcolor="(#[0-9a-f]+)"', d) for d in dots]
    assert [m.group(1) if m else None for m in fills] == list(LEAF_RAMP[-3:])
    assert all("leaves in blue, on one scale for all calls" in d for d in dots)
