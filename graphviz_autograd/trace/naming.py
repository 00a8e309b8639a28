"""Names for tensors, found in the namespaces of the user's own code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .frames import is_user_file, user_caller

__all__ = ["caller_names", "names_in"]


def names_in(namespace: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Tensors bound to names in ``namespace``, and the parameters of the ``nn.Module``s there,
    by path (``model.0.weight``). Names starting with ``_`` are skipped."""
    out: dict[str, torch.Tensor] = {}
    for name, value in list(namespace.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, torch.Tensor):
            out.setdefault(name, value)
        elif isinstance(value, torch.nn.Module):
            for path, param in value.named_parameters():
                out.setdefault(f"{name}.{path}", param)
    return out


def caller_names() -> dict[str, torch.Tensor]:
    """Names from the user's frames on the stack (those outside torch and gradviz), innermost
    first: each frame's locals, then its globals. So a backward called inside a helper module
    names the root by the helper's variable, and the rest by the script's variables."""
    names: dict[str, torch.Tensor] = {}
    seen: set[int] = set()  # namespaces read already (a module's globals, once)
    frame = user_caller()
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            for space in (frame.f_locals, frame.f_globals):
                if id(space) not in seen:
                    seen.add(id(space))
                    for name, tensor in names_in(space).items():
                        names.setdefault(name, tensor)
        frame = frame.f_back
    return names
