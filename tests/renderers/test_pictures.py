"""Pictures of models read top to bottom: laid out by the real `dot`, with module boxes.

Each test captures a small real model with ``modules=True``, lays its DOT out with
``dot -Tjson`` and reads back where Graphviz put every node, edge and box.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import torch
from torch import nn

from graphviz_autograd.model import Graph
from graphviz_autograd.renderers.dot import to_dot
from graphviz_autograd.renderers.layout import find_dot
from graphviz_autograd.trace.record import capture

pytestmark = pytest.mark.dot


class Layout:
    """Where `dot` put things: the picture's size, node centres, box extents, edge ends."""

    def __init__(self, graph: Graph) -> None:
        exe = find_dot()
        assert exe is not None
        done = subprocess.run(
            [exe, "-Tjson"], input=to_dot(graph).encode(), capture_output=True, check=True
        )
        doc: dict[str, Any] = json.loads(done.stdout)
        _, _, self.width, self.height = map(float, doc["bb"].split(","))
        objects = doc["objects"]
        # Graphviz's y axis points up: the top rank has the largest y.
        self.at: dict[str, tuple[float, float]] = {}
        self.boxes: dict[str, tuple[float, float, float, float]] = {}  # module -> x0, y0, x1, y1
        for obj in objects:
            if "pos" in obj:
                x, y = map(float, obj["pos"].split(","))
                self.at[obj["name"]] = (x, y)
            elif obj.get("name", "").startswith("cluster_"):
                x0, y0, x1, y1 = map(float, obj["bb"].split(","))
                self.boxes[obj["tooltip"]] = (x0, y0, x1, y1)
        self.edges = [
            (objects[e["tail"]]["name"], objects[e["head"]]["name"]) for e in doc["edges"]
        ]

    def upward(self) -> list[tuple[str, str]]:
        """Edges whose head is drawn above their tail (arrows go from inputs down to the loss)."""
        return [(a, b) for a, b in self.edges if self.at[b][1] > self.at[a][1] + 1]


def captured(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> Graph:
    with capture(modules=True) as cap:
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
    return cap.graph


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """How far two boxes overlap left to right (negative: the gap between them)."""
    return min(a[2], b[2]) - max(a[0], b[0])


def test_a_sequential_mlp_is_a_column_with_the_loss_at_the_bottom() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(32, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
    graph = captured(model, torch.randn(8, 32), torch.arange(8) % 10)
    layout = Layout(graph)
    assert layout.height > layout.width  # was 1,774 x 874 pt: a staircase of boxes
    (root,) = graph.roots
    assert layout.at[root][1] == min(y for _, y in layout.at.values())
    assert layout.upward() == []
    linears = [layout.boxes[f"model.{i}"] for i in (0, 2, 4, 6)]
    for upper, lower in zip(linears, linears[1:], strict=False):
        assert upper[1] > lower[3]  # each layer's box is above the next one's ...
        # ... and mostly over it, not pushed aside: a staircase overlaps by nothing
        assert overlap(upper, lower) > 0.5 * min(upper[2] - upper[0], lower[2] - lower[0])


class Basic(nn.Module):
    """A ResNet basic block: one ``relu`` module applied twice."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: torch.Tensor = self.relu(out + x)
        return result


def test_a_resnet_reads_down_and_each_relu_call_has_its_box() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        Basic(4),
        Basic(4),
        Basic(4),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    graph = captured(model, torch.randn(2, 3, 8, 8), torch.tensor([0, 2]))
    layout = Layout(graph)
    for block in (1, 2, 3):
        first, second = layout.boxes[f"model.{block}.relu"], layout.boxes[f"model.{block}.relu@2"]
        assert first[1] > second[3]  # the first call's box above the second's
    assert layout.upward() == []
    assert layout.height > 2 * layout.width
    blocks = [layout.boxes[f"model.{i}"] for i in (1, 2, 3)]
    for upper, lower in zip(blocks, blocks[1:], strict=False):
        assert overlap(upper, lower) > 0.5 * min(upper[2] - upper[0], lower[2] - lower[0])


class Dense(nn.Module):
    """A DenseNet block: each layer reads the concatenation of every earlier output."""

    def __init__(self, channels: int, growth: int, layers: int) -> None:
        super().__init__()
        widths = range(channels, channels + layers * growth, growth)
        self.layers = nn.ModuleList(nn.Conv2d(width, growth, 1) for width in widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.layers:
            features.append(conv(torch.cat(features, dim=1)).relu())
        return torch.cat(features, dim=1)


def test_a_dense_block_reads_down_with_its_concatenations_bundled() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        Dense(4, 2, 8),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(20, 3),
    )
    graph = captured(model, torch.randn(2, 3, 6, 6), torch.tensor([0, 2]))
    assert " concentrate=true" in to_dot(graph).splitlines()[1]  # a cat of 9 inputs
    layout = Layout(graph)
    assert layout.height > 1.5 * layout.width  # ranked box by box: 5,732 x 880 pt
    assert layout.upward() == []
    layers = [layout.boxes[f"model.1.layers.{i}"] for i in range(8)]
    for upper, lower in zip(layers, layers[1:], strict=False):
        assert upper[1] > lower[3]  # one layer under the other
