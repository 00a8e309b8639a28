"""Warnings raised under one of our torch function modes name the user's line, not the mode's.

A mode's ``__torch_function__`` is a Python frame between the code that calls a torch function
and the function. A warning torch raises in C++ names the innermost Python frame, and one raised
in Python names the frame ``stacklevel`` frames up from the function that warns: both would name
the mode's frame, in gradviz, instead of the caller's line. While a mode is pushed (`hold` ..
`release`, which `modes.push_mode` and `modes.remove_mode` call), a filter first in
``warnings.filters`` lets every warning located in a mode's module through ("always", so that no
filter decides on it by the wrong file, module or registry), and `_relay`, which the interpreter
calls to show a warning that passed the filters, issues such a warning again with
`warnings.warn_explicit` at the frame it names without the modes. The filters (``-W``, pytest's
``filterwarnings``, ``catch_warnings``), the caller's ``__warningregistry__`` ("default",
"once") and "error" then act on it as they would without gradviz.

Why not catch warnings around each call: that costs every torch call, and ``catch_warnings`` is
not thread-safe. Limits: a warning whose ``stacklevel`` reaches past the mode's frame (into
torch's ``handle_torch_function``) keeps the frame it names; a filter added while a mode is
pushed goes before ours, and one that names a module matching a mode's
(``module="graphviz_autograd"``) decides by the mode's frame.
"""

from __future__ import annotations

import inspect
import re
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any, Final, cast

from torch.overrides import TorchFunctionMode

from .frames import MODE_CODES, handed_to_mode

__all__ = ["hold", "relay_warnings_of", "release"]

_HOOK: Final = "_showwarnmsg"
"""What shows a warning that passed the filters, in the `warnings` module. CPython's private
hook, not the documented ``warnings.showwarning``: ``catch_warnings(record=True)`` (pytest's
``warns`` and its capture of every test's warnings) puts the original ``showwarning`` back for
its block, so a relay hung there would not see the warnings recorded inside such a block
(tests/test_warnings.py::test_catch_warnings_records_the_callers_file_and_line fails then); it
leaves ``_showwarnmsg`` alone."""

_MODE_MODULES: list[str] = []
"""The modules those are defined in: where the warnings the relay issues again are located."""

_lock = threading.Lock()
_holds = 0  # pushed modes, on every thread
_filter: tuple[Any, ...] | None = None  # the filter in ``warnings.filters`` while held
_shown_by: Callable[[warnings.WarningMessage], object] | None = None  # what `_relay` replaced
_registry: dict[str, Any] | None = None  # the globals of the first mode's module (see `_relay`)


def relay_warnings_of(mode: type[TorchFunctionMode]) -> None:
    """Warnings torch raises under ``mode`` name the caller's line, not ``mode``'s frame."""
    global _registry
    code = mode.__torch_function__.__code__
    MODE_CODES.add(code)
    if mode.__module__ not in _MODE_MODULES:
        _MODE_MODULES.append(mode.__module__)
    if _registry is None:
        _registry = mode.__torch_function__.__globals__


def _relay_filter() -> tuple[Any, ...]:
    modules = "|".join(map(re.escape, _MODE_MODULES))
    return ("always", None, Warning, re.compile(f"(?:{modules})\\Z"), 0)


def hold() -> None:
    """A mode is pushed: relay warnings until as many `release` calls."""
    global _holds, _shown_by, _filter
    with _lock:
        _holds += 1
        shown_by = getattr(warnings, _HOOK, None)
        if _holds > 1 or shown_by is None:
            return
        # Inserted without `warnings._filters_mutated()`: that would make every registry forget
        # which warnings it has shown, and a "default" warning would show again after each
        # forward. An "always" filter adds nothing to a registry, so none has to forget.
        _filter = _relay_filter()
        _filters().insert(0, _filter)
        if shown_by is not _relay:
            _shown_by = shown_by
            setattr(warnings, _HOOK, _relay)


def release() -> None:
    """A mode is off the stack: the last release takes the filter and the hook away."""
    global _holds
    with _lock:
        _holds -= 1
        if _holds > 0:
            return
        filters = _filters()  # maybe another list by now (catch_warnings): look it up again
        for index, entry in enumerate(filters):
            if entry is _filter:
                del filters[index]
                break
        if getattr(warnings, _HOOK, None) is _relay and _shown_by is not None:
            setattr(warnings, _HOOK, _shown_by)


def _filters() -> list[Any]:
    return cast("list[Any]", warnings.filters)  # a list, typed as a Sequence


def _relay(msg: warnings.WarningMessage) -> None:
    """Show ``msg``; or, when it names the frame of a mode's ``__torch_function__``, issue it
    again at the frame it names without the mode(s)."""
    caller = _outside_modes(_mode_frame(msg.filename, msg.lineno)) if _holds else None
    if caller is None:
        if _shown_by is not None:
            _shown_by(msg)
        return
    # A filter put before ours ("default", added inside the block) has noted the warning in
    # the registry of the mode's module, by the mode's line: forget it, or the same warning
    # from another line of the caller's would never show. (Only the registry of the first
    # mode's module, `modes`, is forgotten: the doctor's stays, as it always did.)
    registry = None if _registry is None else _registry.get("__warningregistry__")
    if isinstance(registry, dict):
        registry.clear()
    scope = caller.f_globals  # what `warnings.warn` passes for a warning from this frame
    warnings.warn_explicit(
        msg.message,
        msg.category,
        caller.f_code.co_filename,
        caller.f_lineno,
        scope.get("__name__", "<string>"),
        scope.setdefault("__warningregistry__", {}),
        scope,
        msg.source,
    )


def _mode_frame(filename: str, line: int) -> FrameType | None:
    """The innermost frame of a mode's ``__torch_function__`` at ``filename:line``, if any."""
    if not any(filename == code.co_filename for code in MODE_CODES):
        return None
    frame = inspect.currentframe()  # no depth: our frames are not mode frames
    while frame is not None:
        if frame.f_code in MODE_CODES and frame.f_lineno == line:
            return frame
        frame = frame.f_back
    return None


def _outside_modes(frame: FrameType | None) -> FrameType | None:
    """The frame that called the torch function a mode's ``__torch_function__`` (``frame``)
    was handed, past any other mode's: what a warning naming ``frame`` names without them."""
    handing = handed_to_mode(frame)
    return handing[-1].f_back if handing else frame
