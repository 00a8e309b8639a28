r"""Qualified paths of ``nn.Module``\ s (``model.encoder.layers.1.linear1``), from the variables
of a namespace: ``named_modules(prefix=<variable name>)`` for every module found there.

`ModuleNames` resolves the modules a `modules.ModuleTagger` meets, caching what it found by
weak reference, so that no cache keeps a module alive. A module not found in the namespace is
named from its parent (the innermost running module) where the parent contains it. One the
parent does not contain (a module made inside a forward, held in a global or a plain
attribute, like the ``Func`` modules transformers wraps ``apply_rotary_pos_emb`` in) is the
parent's all the same, named inside it: by the parent's attribute that holds it
(``attn.rotary``, ``attn.fns.0``), else by the variable of the calling code that holds it
(``attn.apply_rotary_pos_emb``), else ``<parent>.<ClassName>#<n>`` (the n-th of its class met
in that call of the parent). A module with no running parent that no variable holds is
``<ClassName>#<n>`` (numbered in order of first appearance).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import Any, NamedTuple

import torch

from .frames import user_caller

__all__ = ["ModuleNames", "Namespace", "Running", "module_paths"]

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


class Running(NamedTuple):
    """A module whose forward is running."""

    module: torch.nn.Module
    path: str
    """Its qualified path (see `ModuleNames.resolve`)."""
    call: str
    """The path of this call: ``path`` inside its parent's call, with ``@n`` from its second
    call in one forward on (see `modules.ModuleTagger`)."""


class _Inside(NamedTuple):
    """A module met inside a running module that the namespace does not name, and its name
    in that module."""

    parent: Ref
    module: Ref
    name: str
    numbered: bool
    """Whether ``name`` is ``<ClassName>#<n>``: counted in one forward, forgotten after it."""


def _held(owner: torch.nn.Module, module: torch.nn.Module) -> str | None:
    """The name under which ``owner`` holds ``module`` outside its submodules: an attribute
    (``rotary``), or an item of a list, tuple or dict attribute (``fns.0``), else None."""
    for name, value in getattr(owner, "__dict__", {}).items():
        if value is module:
            return str(name)
        if isinstance(value, (list, tuple)):
            items: Iterable[tuple[object, object]] = enumerate(value)
        elif isinstance(value, dict):
            items = value.items()
        else:
            continue
        for key, item in items:
            if item is module and isinstance(key, (int, str)) and "." not in str(key):
                return f"{name}.{key}"
    return None


def _variable(module: torch.nn.Module) -> str | None:
    """The name of the variable holding ``module`` in the code calling it (the innermost frame
    outside torch and gradviz), its locals first, or None."""
    frame = user_caller()
    if frame is None:
        return None
    for name, value in _frame_pairs(frame):
        if value is module and name != "self":
            return name
    return None


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
        # (id(parent), id(module)) -> a module named inside its running parent
        self._inside: dict[tuple[int, int], _Inside] = {}
        # during one outermost forward: (parent call, class name) -> modules numbered so far
        self._numbers: dict[tuple[str, str], int] = {}

    def clear(self) -> None:
        """Forget every module and the frame (the block ended)."""
        self._known.clear()
        self._named = None
        self._children.clear()
        self._anonymous.clear()
        self._inside.clear()
        self._numbers.clear()
        self.frame = None

    def end_forward(self) -> None:
        """Forget the numbered names (``<parent>.<ClassName>#<n>``), so that the next forward
        numbers the modules it makes from 1 again, and the modules that died (made by a
        forward)."""
        self._numbers.clear()
        inside = self._inside
        for key in [key for key, hit in inside.items() if hit.numbered or hit.module() is None]:
            del inside[key]

    def resolve(self, module: torch.nn.Module, parent: Running | None) -> str:
        """The path of ``module``: as met before; else from the namespace; else inside
        ``parent`` (the innermost running module), where it contains it; else from the
        namespace read again; else inside ``parent`` all the same (see the module docstring);
        else ``<ClassName>#<n>``. A path inside a parent follows the parent's path, which may
        differ from call to call (one global module called by every layer)."""
        key = id(module)
        hit = self._known.get(key)
        if hit is not None and hit.ref() is module:
            return hit.path
        if parent is not None:
            inside = self._inside.get((id(parent.module), key))
            if inside is not None and inside.module() is module:
                if inside.parent() is parent.module:
                    return f"{parent.path}.{inside.name}"
        path = self._lookup(module, rebuild=False)
        if path is None and parent is not None:
            name = self._in_parent(parent.module, module)
            if name is not None:
                return self._keep(module, parent, name)
        if path is None:
            path = self._lookup(module, rebuild=True)
        if path is None and parent is not None:
            return self._keep(module, parent, _held(parent.module, module) or _variable(module))
        if path is None:
            path = self.anonymous(module)
        self._known[key] = _Known(_ref(module), path)
        return path

    def _keep(self, module: torch.nn.Module, parent: Running, name: str | None) -> str:
        """The path of ``module`` named ``name`` inside ``parent`` (``<ClassName>#<n>`` when
        None), remembered for the next call of ``module`` inside ``parent``."""
        numbered = name is None
        if name is None:
            kind = type(module).__name__
            count = (parent.call, kind)
            number = self._numbers[count] = self._numbers.get(count, 0) + 1
            name = f"{kind}#{number}"
        key = (id(parent.module), id(module))
        self._inside[key] = _Inside(_ref(parent.module), _ref(module), name, numbered)
        return f"{parent.path}.{name}"

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

    def _in_parent(self, owner: torch.nn.Module, module: torch.nn.Module) -> str | None:
        """The name of ``module`` in ``owner.named_modules()``, or None."""
        hit = self._children.get(id(owner))
        fresh = hit is None or hit.ref() is not owner
        while True:
            if fresh or hit is None:
                names = {id(sub): name for name, sub in owner.named_modules() if sub is not owner}
                hit = _Children(_ref(owner), names)
                self._children[id(owner)] = hit
            name = hit.names.get(id(module))
            if name is not None:
                return name
            if fresh:
                return None
            fresh = True  # the map may predate the child: build it once more

    def anonymous(self, module: torch.nn.Module) -> str:
        """``<ClassName>#<n>``: the n-th module of its class named so."""
        kind = type(module).__name__
        number = self._anonymous.get(kind, 0) + 1
        self._anonymous[kind] = number
        return f"{kind}#{number}"
