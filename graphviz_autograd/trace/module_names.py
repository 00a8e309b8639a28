r"""Qualified paths of ``nn.Module``\ s (``model.encoder.layers.1.linear1``), from the variables
of a namespace: ``named_modules(prefix=<variable name>)`` for every module found there.

`ModuleNames` resolves the modules a `modules.ModuleTagger` meets, caching what it found by
weak reference, so that no cache keeps a module alive. A module not found in the namespace is
named from its parent, else ``<ClassName>#<n>`` (numbered in order of first appearance).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import Any, NamedTuple

import torch

__all__ = ["ModuleNames", "Namespace", "module_paths"]

Namespace = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""Where module variable names come from: a mapping, or a function returning one (called each
time an unknown module is met, so it can see variables bound after the block started)."""

Ref = Callable[[], "torch.nn.Module | None"]
"""A weak reference to a module (or, for a module that takes none, a function returning None)."""


def _module_items(pairs: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, torch.nn.Module]]:
    """``(path, module)`` for every module reachable from ``pairs`` (variable name, value).

    Modules that no other module in ``pairs`` contains come first, so ``model.encoder`` wins
    over a second variable ``encoder = model.encoder``; otherwise the first path seen wins
    (``named_modules`` order). Names starting with ``_`` are skipped."""
    found = [
        (name, value)
        for name, value in pairs
        if not name.startswith("_") and isinstance(value, torch.nn.Module)
    ]
    if not found:
        return
    inner: set[int] = set()
    for _, module in found:
        inner.update(id(sub) for sub in module.modules() if sub is not module)
    roots = [(name, module) for name, module in found if id(module) not in inner]
    rest = [(name, module) for name, module in found if id(module) in inner]
    seen: set[int] = set()
    for name, module in roots + rest:
        for path, sub in module.named_modules(prefix=name):
            if id(sub) not in seen:
                seen.add(id(sub))
                yield path, sub


def module_paths(namespace: Mapping[str, Any]) -> dict[int, str]:
    """``id(module) -> qualified path`` for every ``nn.Module`` reachable from the values of
    ``namespace`` through ``named_modules(prefix=<variable name>)``: ``"model.0"``,
    ``"model.encoder.layers.1.linear1"``. Ids are only meaningful while the modules live."""
    return {id(module): path for path, module in _module_items(list(namespace.items()))}


def _frame_pairs(frame: FrameType) -> list[tuple[str, Any]]:
    """A frame's locals, then its globals not shadowed by a local."""
    local = frame.f_locals
    pairs = list(local.items())
    if local is not frame.f_globals:
        pairs.extend((k, v) for k, v in frame.f_globals.items() if k not in local)
    return pairs


def _ref(module: torch.nn.Module) -> Ref:
    try:
        return weakref.ref(module)
    except TypeError:  # a module class with __slots__ and no __weakref__: do not cache it
        return lambda: None


class _Known(NamedTuple):
    """A module met before, and its path."""

    ref: Ref
    path: str


class _Children(NamedTuple):
    """A module, and the relative name of each module inside it, by id."""

    ref: Ref
    names: dict[int, str]


class ModuleNames:
    """Names the modules met in one `modules.ModuleTagger` block.

    ``namespace``: a mapping (a script's globals), a function returning one, or ``None`` for
    the locals and globals of ``frame`` (set when the block starts)."""

    def __init__(self, namespace: Namespace | None) -> None:
        self.namespace = namespace
        self.frame: FrameType | None = None  # the code that entered the block, inside it
        # id(module) -> every module met so far
        self._known: dict[int, _Known] = {}
        # the same for the namespace's modules, built when first needed
        self._named: dict[int, _Known] | None = None
        # id(parent) -> the names of the modules inside it
        self._children: dict[int, _Children] = {}
        self._anonymous: dict[str, int] = {}

    def clear(self) -> None:
        """Forget every module and the frame (the block ended)."""
        self._known.clear()
        self._named = None
        self._children.clear()
        self._anonymous.clear()
        self.frame = None

    def resolve(
        self, module: torch.nn.Module, parent: torch.nn.Module | None, parent_path: str
    ) -> str:
        """The path of ``module``: as met before; else from the namespace; else inside
        ``parent`` (the innermost running module, at ``parent_path``); else from the namespace
        read again; else ``<ClassName>#<n>``."""
        key = id(module)
        hit = self._known.get(key)
        if hit is not None and hit.ref() is module:
            return hit.path
        path = self._lookup(module, rebuild=False)
        if path is None and parent is not None:
            path = self._in_parent(parent, parent_path, module)
        if path is None:
            path = self._lookup(module, rebuild=True)
        if path is None:
            path = self.anonymous(module)
        self._known[key] = _Known(_ref(module), path)
        return path

    def _lookup(self, module: torch.nn.Module, *, rebuild: bool) -> str | None:
        if self._named is None or rebuild:
            items = _module_items(self._pairs())
            self._named = {id(sub): _Known(_ref(sub), path) for path, sub in items}
        hit = self._named.get(id(module))
        return hit.path if hit is not None and hit.ref() is module else None

    def _pairs(self) -> list[tuple[str, Any]]:
        namespace = self.namespace
        if namespace is None:
            return _frame_pairs(self.frame) if self.frame is not None else []
        if not isinstance(namespace, Mapping):
            namespace = namespace()
        return list(namespace.items())

    def _in_parent(
        self, owner: torch.nn.Module, owner_path: str, module: torch.nn.Module
    ) -> str | None:
        hit = self._children.get(id(owner))
        fresh = hit is None or hit.ref() is not owner
        while True:
            if fresh or hit is None:
                names = {id(sub): name for name, sub in owner.named_modules() if sub is not owner}
                hit = _Children(_ref(owner), names)
                self._children[id(owner)] = hit
            name = hit.names.get(id(module))
            if name is not None:
                return f"{owner_path}.{name}"
            if fresh:
                return None
            fresh = True  # the map may predate the child: build it once more

    def anonymous(self, module: torch.nn.Module) -> str:
        """``<ClassName>#<n>``: the n-th module of its class named so."""
        kind = type(module).__name__
        number = self._anonymous.get(kind, 0) + 1
        self._anonymous[kind] = number
        return f"{kind}#{number}"
