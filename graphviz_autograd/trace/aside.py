"""``torch.compile`` never sees gradviz: what compiled code runs is what it runs under python.

Dynamo traces the global module hooks and the torch function modes it finds when it compiles a
frame, and guards on them: gradviz's hooks and modes, there while a `capture` block runs, would
then be traced into the user's compiled code, warned about ("global hooks on modules"), guarded
on, and missed once the block ends. So, inside a block, `compile` stands in for
``torch.compile``: what it returns is the compiled model or function, which takes gradviz's
hooks (`ForwardHooks`) and modes (`modes.push_mode`) away while it runs and puts them back
after (`standing_aside`). The module hooks of a compiled module still see it called as a
whole, from outside: its nodes get its box.

Limits: a model compiled before the block began is not wrapped: torch warns about gradviz's
global hooks when it is called inside the block, and Dynamo compiles it once more there, with
gradviz's modes on the stack (their calls pass straight through, see ``modes.NodeWatch``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import torch
from torch.nn.modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from torch.utils.hooks import RemovableHandle

from . import regions
from .modes import stand_aside, stand_back

__all__ = [
    "COMPILED_AUTOGRAD_NOTE",
    "ForwardHooks",
    "compile_standin",
    "compiled_autograd",
    "hidden_from_dynamo",
    "is_dynamo_wrapper",
    "standing_aside",
    "torch_is_tracing",
]

_TRACING_MODES = tuple(
    getattr(torch._C._TorchDispatchModeKey, name, None) for name in ("FAKE", "PROXY", "FUNCTIONAL")
)


def torch_is_tracing() -> bool:
    """Whether torch is tracing a graph on this thread (AOTAutograd, ``make_fx``, compiled
    autograd): a backward call made now is one of torch's, on fake or functional tensors.

    ``torch.compiler.is_compiling()`` is not the test: it stays true while compiled autograd
    runs the script's own backward. A fake, proxy or functional dispatch mode is (torch's
    private ``_get_dispatch_mode``; where it is missing, ``is_compiling`` stands in)."""
    get_mode = getattr(torch._C, "_get_dispatch_mode", None)
    if get_mode is None or None in _TRACING_MODES:
        return torch.compiler.is_compiling()
    return any(get_mode(key) is not None for key in _TRACING_MODES)


COMPILED_AUTOGRAD_NOTE = (
    "compiled autograd ran this backward call: the gradients inside the graph were not seen, "
    "only the leaves' .grad"
)


def compiled_autograd() -> bool:
    """Whether a backward call made now runs under compiled autograd, which traces the hooks
    on the graph's nodes into its own graph (``torch._dynamo.config.compiled_autograd``; the
    flag is torch's private ``compiled_autograd_enabled``)."""
    module = sys.modules.get("torch._dynamo.compiled_autograd")  # not loaded: not in use
    return bool(getattr(module, "compiled_autograd_enabled", False))


PreHook = Callable[[torch.nn.Module, Any], None]
PostHook = Callable[[torch.nn.Module, Any, Any], None]


class ForwardHooks:
    """Global module forward hooks of gradviz's (a pre hook, and maybe a post hook called even
    when the forward raises), installed by `install` until `remove`; compiled code runs without
    them (`standing_aside`)."""

    def __init__(self, pre: PreHook, post: PostHook | None = None) -> None:
        self.pre, self.post = pre, post
        self._handles: list[RemovableHandle] = []

    def install(self) -> ForwardHooks:
        self._register()
        _installed.append(self)
        return self

    def remove(self) -> None:
        self._unregister()
        if self in _installed:
            _installed.remove(self)

    def _register(self) -> None:
        self._handles.append(register_module_forward_pre_hook(self.pre))
        if self.post is not None:
            self._handles.append(register_module_forward_hook(self.post, always_call=True))

    def _unregister(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


_installed: list[ForwardHooks] = []


def _registered() -> list[ForwardHooks]:
    """The installed hooks that are not standing aside."""
    return [hooks for hooks in _installed if hooks._handles]


@contextlib.contextmanager
def standing_aside() -> Iterator[None]:
    """gradviz's module hooks and (this thread's) modes are away for the block (inside another
    such block, there is nothing left to take away)."""
    hooks = _registered()
    for each in hooks:
        each._unregister()
    modes = stand_aside()
    try:
        yield
    finally:
        stand_back(modes)
        for each in hooks:
            if each in _installed:  # not removed meanwhile (a capture ended inside the block)
                each._register()


def _call_aside(
    run: Callable[..., Any], module: torch.nn.Module | None, *args: Any, **kwargs: Any
) -> Any:
    """``run(*args, **kwargs)`` with gradviz standing aside; ``module``'s hooks (the compiled
    module, called as a whole) run around it, as they would around a module's forward. The
    regions it ran are read (`regions.remember`) before any backward, named by what was
    compiled: the function (``run``'s name), or the module, whose box names it."""
    hooks = _registered() if module is not None else []
    for each in hooks:
        each.pre(module, args)  # type: ignore[arg-type]
    output: Any = None
    try:
        with standing_aside():
            output = run(*args, **kwargs)
        label = "" if module is not None else getattr(run, "__name__", "")
        regions.remember(output, label, (args, kwargs))
        return output
    finally:
        for each in reversed(hooks):
            if each.post is not None:
                each.post(module, args, output)  # type: ignore[arg-type]


def compile_standin(
    original: Callable[..., Any], on_compile: Callable[[], None]
) -> Callable[..., Any]:
    """What stands in for ``torch.compile`` (``original``) inside a block: the same, but what it
    returns runs with gradviz standing aside. ``on_compile`` is called at each call."""

    @functools.wraps(original)
    def compile(model: Any = None, **kwargs: Any) -> Any:
        if model is None:  # @torch.compile(...) as a decorator with arguments
            return lambda target: compile(target, **kwargs)
        on_compile()
        with standing_aside():  # an OptimizedModule chooses what to trace by the hooks it sees
            compiled = original(model, **kwargs)
        owner = getattr(model, "__self__", None)  # Module.compile() compiles its _call_impl
        return _aside(compiled, owner if isinstance(owner, torch.nn.Module) else None)

    return compile


def hidden_from_dynamo(standin: Callable[..., Any]) -> Callable[..., Any]:
    """``standin`` (for ``torch.autograd.backward`` or ``grad``), run as Dynamo runs torch's
    own: never traced, nor anything it calls (the engine, the hooks on the graph's nodes). A
    backward call inside a compiled function breaks its graph and runs eagerly; without this,
    Dynamo would go on to compile gradviz's frames the call enters."""
    disable: Callable[..., Callable[..., Any]] = torch.compiler.disable
    return disable(standin, recursive=True)


def is_dynamo_wrapper(frame: FrameType) -> bool:
    """Whether ``frame`` is the wrapper `hidden_from_dynamo` put around a stand-in."""
    return frame.f_code.co_filename.endswith(_EVAL_FRAME)


_EVAL_FRAME = os.path.join("torch", "_dynamo", "eval_frame.py")


def _aside(compiled: Any, module: torch.nn.Module | None) -> Any:
    """``compiled`` (a module, or a function: ``module``'s call when it compiles one), made to
    run with gradviz standing aside."""
    if isinstance(compiled, torch.nn.Module):
        compiled.__class__ = _aside_class(type(compiled))
        return compiled
    if not callable(compiled):
        return compiled

    @functools.wraps(compiled)
    def run(*args: Any, **kwargs: Any) -> Any:
        return _call_aside(compiled, module, *args, **kwargs)

    return run


_classes: dict[type[Any], type[Any]] = {}


def _aside_class(base: type[Any]) -> type[Any]:
    """A subclass of ``base`` (``OptimizedModule``) whose calls run with gradviz standing aside;
    same name, so that it prints the same."""
    aside = _classes.get(base)
    if aside is None:

        def __call__(self: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            return _call_aside(functools.partial(base.__call__, self), self, *args, **kwargs)

        aside = type(base.__name__, (base,), {"__call__": __call__, "__module__": base.__module__})
        aside.__qualname__ = base.__qualname__
        _classes[base] = aside
    return aside
