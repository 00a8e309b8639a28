"""Which frames on the stack are the user's: the one place that knows which files are not.

A frame is the user's when its file is outside torch, outside gradviz (the whole package) and
outside ``contextlib`` (whose frames sit between a ``with`` statement and our context managers).
Call sites, names of variables, the namespace that names modules and the lines of a
traceback anomaly mode stored are all looked for from the innermost frame outward, skipping
the others.

A torch function mode of ours also puts frames of torch's between the user's code and the
function it called: `handed_to_mode` finds them, for warnings (`relay`) and for the script's
traceback (`script.script_traceback`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from pathlib import Path
from types import CodeType, FrameType
from typing import Final

import torch

__all__ = [
    "MODE_CODES",
    "PACKAGE",
    "SKIP",
    "call_site",
    "handed_to_mode",
    "is_user_file",
    "user_caller",
    "user_frame",
]

PACKAGE: Final = str(Path(__file__).parent.parent) + os.sep
"""The folder of the whole package, as a prefix of its files' names."""

SKIP: Final = (
    str(Path(torch.__file__).parent) + os.sep,  # the separator: not torchvision
    PACKAGE,
    str(Path(contextlib.__file__ or "contextlib.py")),
)
"""Prefixes of the file names that are not the user's."""


def is_user_file(filename: str) -> bool:
    """Whether code in ``filename`` is the user's (not torch's, gradviz's or contextlib's)."""
    return not filename.startswith(SKIP)


def user_frame(frame: FrameType | None) -> FrameType | None:
    """The innermost user frame, from ``frame`` outward."""
    while frame is not None and frame.f_code.co_filename.startswith(SKIP):
        frame = frame.f_back
    return frame


def user_caller() -> FrameType | None:
    """The innermost user frame on the stack: the code that called into gradviz (and torch).

    Walks out from the current frame, which is gradviz's, however deep in gradviz the caller
    is; `inspect.currentframe` is the public way to get it (None on a Python without frames)."""
    return user_frame(inspect.currentframe())


def call_site() -> tuple[str, int] | None:
    """``(file, line)`` of the innermost user frame on the stack; None when there is none."""
    frame = user_frame(inspect.currentframe())
    return None if frame is None else (frame.f_code.co_filename, frame.f_lineno)


_HANDLE_TORCH_FUNCTION: Final = torch.overrides.handle_torch_function.__code__
MODE_CODES: Final[set[CodeType]] = set()
"""The code of each of our modes' ``__torch_function__`` (see `relay.relay_warnings_of`)."""


def handed_to_mode(frame: FrameType | None) -> list[FrameType]:
    """The frames, from ``frame`` outward, that hand a torch call to our modes: each mode's
    ``__torch_function__`` and, for a function written in Python (``Tensor.backward``), torch's
    ``handle_torch_function`` and the function's outer call, which called it; [] when ``frame``
    is no mode's. The frame after the last is the one that called the torch function."""
    frames: list[FrameType] = []
    while frame is not None and frame.f_code in MODE_CODES:
        frames.append(frame)
        frame = frame.f_back
        if frame is not None and frame.f_code is _HANDLE_TORCH_FUNCTION:
            frames.append(frame)
            frame = frame.f_back
            if frame is not None:
                frames.append(frame)
                frame = frame.f_back
    return frames
