"""Real models, built from their configs with random weights (nothing is downloaded).

Each builder returns ``(loss, params)`` like the builders of ``graphs.py``: a scalar with an
autograd graph, and the model's named parameters. Seeded, so a graph is the same in every
process. The transformers models need the ``bench`` extra (``pip install -e ".[bench]"``);
torchvision is not used: its wheels on the package index are CUDA builds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Built = tuple[torch.Tensor, dict[str, torch.Tensor]]

NAMESPACE: dict[str, object] = {}
"""Each builder binds its model here as ``model`` before running it. ``make_graph.py`` makes
this its own globals, so that under ``gradviz run`` modules and parameters are named as in a
script of one's own (``model.resnet.embedder``, ``model.0.weight``), not ``Sequential#1``."""


def _classify(model: nn.Module, pixels: torch.Tensor, labels: int) -> Built:
    model.train()
    NAMESPACE["model"] = model
    logits = model(pixel_values=pixels).logits
    loss = nn.functional.cross_entropy(logits, torch.arange(pixels.shape[0]) % labels)
    return loss, dict(model.named_parameters())


def _language(model: nn.Module, vocab: int, batch: int = 2, tokens: int = 16) -> Built:
    model.train()
    ids = torch.randint(0, vocab, (batch, tokens))
    NAMESPACE["model"] = model
    out = model(input_ids=ids, labels=ids)
    return out.loss, dict(model.named_parameters())


def _resnet(depths: list[int], hidden_sizes: list[int], layer_type: str) -> Built:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    config = ResNetConfig(
        depths=depths, hidden_sizes=hidden_sizes, layer_type=layer_type, num_labels=10
    )
    return _classify(ResNetForImageClassification(config), torch.randn(2, 3, 64, 64), 10)


def resnet18() -> Built:
    """ResNet-18 (basic blocks [2, 2, 2, 2], 11.2 M parameters) on 2 images of 3x64x64."""
    return _resnet([2, 2, 2, 2], [64, 128, 256, 512], "basic")


def resnet50() -> Built:
    """ResNet-50 (bottleneck blocks [3, 4, 6, 3], widths 256 to 2,048, 23.5 M parameters) on 2
    images of 3x64x64."""
    return _resnet([3, 4, 6, 3], [256, 512, 1024, 2048], "bottleneck")


def vit_small() -> Built:
    """A small ViT (4 layers, hidden 192, 3 heads, patch 16) on 2 images of 3x64x64."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(
        hidden_size=192,
        num_hidden_layers=4,
        num_attention_heads=3,
        intermediate_size=768,
        image_size=64,
        patch_size=16,
        num_labels=10,
    )
    return _classify(ViTForImageClassification(config), torch.randn(2, 3, 64, 64), 10)


def _gpt2(layers: int) -> Built:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=layers,
        n_embd=128,
        n_head=4,
        vocab_size=1000,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return _language(GPT2LMHeadModel(config), 1000)


def gpt2() -> Built:
    """GPT-2 with 2 layers (hidden 128, 4 heads, vocab 1,000), language-model loss."""
    return _gpt2(2)


def gpt2_20() -> Built:
    """GPT-2 with 20 layers, otherwise as `gpt2` (2 x 16 tokens)."""
    return _gpt2(20)


def bert() -> Built:
    """BERT with 2 layers (hidden 128, 4 heads, vocab 1,000), masked-LM loss."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(
        num_hidden_layers=2,
        hidden_size=128,
        num_attention_heads=4,
        intermediate_size=512,
        vocab_size=1000,
        max_position_embeddings=64,
    )
    return _language(BertForMaskedLM(config), 1000)


def _decoder(kind: str) -> Built:
    import transformers

    torch.manual_seed(0)
    config = getattr(transformers, f"{kind}Config")(
        num_hidden_layers=2,
        hidden_size=128,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=256,
        vocab_size=1000,
        max_position_embeddings=64,
    )
    return _language(getattr(transformers, f"{kind}ForCausalLM")(config), 1000)


def llama() -> Built:
    """Llama with 2 layers (hidden 128, 4 heads, 2 KV heads, vocab 1,000), causal-LM loss."""
    return _decoder("Llama")


def mistral() -> Built:
    """Mistral, as `llama` (not in the tables: the tests draw it, it times as Llama does)."""
    return _decoder("Mistral")


def _recurrent(kind: type[nn.GRU] | type[nn.LSTM]) -> Built:
    torch.manual_seed(0)
    model = NAMESPACE["model"] = kind(input_size=16, hidden_size=32, num_layers=2)
    out, _ = model(torch.randn(50, 4, 16))  # 50 steps, batch 4
    return out.pow(2).mean(), dict(model.named_parameters())


def gru() -> Built:
    """``nn.GRU`` with 2 layers (16 -> 32) over 50 steps, batch 4: 1,421 nodes, 2,410 edges."""
    return _recurrent(nn.GRU)


def lstm() -> Built:
    """``nn.LSTM`` with 2 layers (16 -> 32) over 50 steps, batch 4."""
    return _recurrent(nn.LSTM)


class DenseBlock(nn.Module):
    """A DenseNet-style block: each of ``layers`` BN-ReLU-conv layers reads the concat of the
    block's input and every earlier layer's output (many-input ``cat`` nodes)."""

    def __init__(self, channels: int = 16, growth: int = 8, layers: int = 6) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(channels + i * growth),
                nn.ReLU(),
                nn.Conv2d(channels + i * growth, growth, 3, padding=1),
            )
            for i in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


def dense_block() -> Built:
    """Two `DenseBlock` s of 6 layers on 2 images of 16x16x16, pooled to a linear head."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        DenseBlock(16, 8, 6),
        nn.Conv2d(64, 16, 1),
        DenseBlock(16, 8, 6),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    NAMESPACE["model"] = model
    logits = model(torch.randn(2, 3, 16, 16))
    loss = nn.functional.cross_entropy(logits, torch.tensor([1, 2]))
    return loss, dict(model.named_parameters())


def mlp4() -> Built:
    """A 4-layer ``nn.Sequential`` MLP (32 -> 64 -> 64 -> 64 -> 10), cross-entropy, batch 8."""
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
    NAMESPACE["model"] = model
    loss = nn.functional.cross_entropy(model(torch.randn(8, 32)), torch.arange(8) % 10)
    return loss, dict(model.named_parameters())


MODELS: dict[str, tuple[str, Callable[[], Built]]] = {
    "mlp4": ("Sequential MLP x4", mlp4),
    "resnet18": ("ResNet-18", resnet18),
    "vit-small": ("ViT (4 layers)", vit_small),
    "gpt2": ("GPT-2 (2 layers)", gpt2),
    "bert": ("BERT (2 layers)", bert),
    "llama": ("Llama (2 layers)", llama),
    "gru": ("nn.GRU 2x50 steps", gru),
    "lstm": ("nn.LSTM 2x50 steps", lstm),
    "dense-block": ("DenseNet-style blocks", dense_block),
}
"""Key -> (title for tables, builder), in table order."""


BIG: dict[str, tuple[str, Callable[[], Built]]] = {
    "gpt2-20": ("GPT-2 (20 layers)", gpt2_20),
    "resnet50": ("ResNet-50", resnet50),
}
"""Bigger models, for the explorer at scale (`explorer_load.py`); not in the `MODELS` tables."""


def build(key: str) -> Built:
    """Build model ``key`` (of `MODELS` or `BIG`); raises KeyError naming the choices."""
    known = {**MODELS, **BIG}
    if key not in known:
        raise KeyError(f"unknown model {key!r}; choose from: {', '.join(known)}")
    return known[key][1]()
