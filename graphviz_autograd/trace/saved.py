"""What backward functions saved for backward: the one place that reads the private
``_saved_<name>`` attributes of autograd nodes (pytorchviz reads them the same way).

A tensor attribute has a ``_raw_saved_<name>`` twin and is freed by backward (reading it then
raises ``RuntimeError``); the others (sizes, dims, scalars) survive backward.
"""

from __future__ import annotations

from typing import Any

import torch

from ..model import Node, SavedTensor
from .stats import dtype_name, shape_of

__all__ = ["SavedSizes", "input_records", "saved_record", "saved_values"]


class SavedSizes:
    """The bytes of each storage that saved tensors keep alive, each storage counted once."""

    def __init__(self) -> None:
        # (device, data_ptr) -> bytes of each storage a saved tensor keeps alive
        self.storages: dict[tuple[str, int], int] = {}

    def total(self) -> int:
        """Bytes held by the saved tensors described so far."""
        return sum(self.storages.values())

    def describe(self, name: str, tensor: torch.Tensor | None) -> SavedTensor:
        """What ``tensor``, saved as ``name`` (None: freed by backward), is and holds."""
        if tensor is None:
            return SavedTensor(name, None, None, None, freed=True)
        try:
            storage = tensor.untyped_storage()
            nbytes = storage.nbytes()
            self.storages[(str(tensor.device), storage.data_ptr())] = nbytes
        except (RuntimeError, NotImplementedError):  # sparse, nested or meta tensors
            nbytes = tensor.numel() * tensor.element_size()
        return SavedTensor(name, shape_of(tensor), dtype_name(tensor.dtype), nbytes, freed=False)


def saved_record(name: str, tensor: torch.Tensor | None) -> Node:
    """The record of a tensor an op saved (None: freed by backward), with a blank id."""
    if tensor is None:
        return Node("", "saved", name=name, requires_grad=False, freed=True)
    return Node(
        "",
        "saved",
        name=name,
        requires_grad=tensor.requires_grad,
        shape=shape_of(tensor),
        dtype=dtype_name(tensor.dtype),
    )


def saved_values(
    fn: Any, *, tensors: bool
) -> tuple[list[tuple[str, torch.Tensor | None]], tuple[tuple[str, str], ...]]:
    """Saved tensors (None when freed) and non-tensor saved attributes of ``fn``.

    Reads the private ``_saved_<name>`` attributes; an attribute with a ``_raw_saved_<name>``
    twin holds a tensor, which backward frees (reading it then raises RuntimeError).
    """
    saved: list[tuple[str, torch.Tensor | None]] = []
    attrs: list[tuple[str, str]] = []
    names = [a for a in dir(fn) if a.startswith("_saved_")]
    raw = {a[len("_raw_saved_") :] for a in dir(fn) if a.startswith("_raw_saved_")}
    if hasattr(fn, "_forward_cls") and tensors:  # custom autograd.Function
        names, raw = ["saved_tensors"], {"saved_tensors"}
    for attr in names:
        name = attr.removeprefix("_saved_")
        if name in raw:
            if not tensors:
                continue
            try:
                value = getattr(fn, attr)
            except RuntimeError:
                saved.append((name, None))
                continue
            if isinstance(value, torch.Tensor):
                saved.append((name, value))
            elif isinstance(value, (tuple, list)):
                saved.extend(
                    (f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, torch.Tensor)
                )
            continue
        try:
            value = getattr(fn, attr)
        except RuntimeError:
            continue
        if isinstance(value, torch.Tensor):
            if tensors:
                saved.append((name, value))
        elif isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
            if tensors:
                saved.extend((f"{name}[{i}]", v) for i, v in enumerate(value))
        else:
            attrs.append((name, _short(value)))
    return saved, tuple(attrs)


def _short(value: object, limit: int = 80) -> str:
    text = str(value) if isinstance(value, torch.dtype) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def input_records(fn: Any, slots: list[int], names: dict[int, str]) -> dict[int, Node]:
    """The records of the forward inputs of ``fn`` that need no gradient, at its input
    ``slots`` (the ``None`` entries of its ``next_functions``, in order), by slot: named by
    ``names`` (``id(tensor) -> name``), with shape and dtype, when ``fn`` saved them for
    backward (``w * x`` saves ``x``). Such an input is not in the graph otherwise: those ``fn``
    did not save, or saved and backward freed, are anonymous (none here).

    The saved tensors that are no output (``result``), need no grad and hold floating-point
    values are paired with the slots in order (``self`` first, as in the forward signature),
    when there are as many of them as slots; else none is, rather than a wrong one.
    """
    found: list[tuple[str, torch.Tensor]] = []
    raw = {a[len("_raw_saved_") :] for a in dir(fn) if a.startswith("_raw_saved_")}
    for name in sorted(raw, key=lambda n: (n != "self", n)):
        if name.startswith("result"):
            continue
        try:
            value = getattr(fn, f"_saved_{name}")
        except RuntimeError:  # freed by backward: the inputs cannot be told apart
            return {}
        if (
            isinstance(value, torch.Tensor)
            and not value.requires_grad
            and (value.is_floating_point() or value.is_complex())
        ):
            found.append((name, value))
    if len(found) != len(slots):
        return {}
    return {
        slot: Node(
            "",
            "input",
            name=names.get(id(tensor)),
            is_leaf=tensor.is_leaf,
            requires_grad=False,
            shape=shape_of(tensor),
            dtype=dtype_name(tensor.dtype),
        )
        for slot, (_, tensor) in zip(slots, found, strict=True)
    }
