"""Record the backward calls a program makes: the graph the engine is about to run, and the
gradients right after it ran.

`capture()` wraps ``torch.autograd.backward``, which ``Tensor.backward`` calls, for the duration
of a ``with`` block. Each call is walked before the engine runs (so saved tensors are still
there), then its leaves' ``.grad`` are summarised after. No tensor outlives the call.

Here: the block (`capture`). Which calls it keeps is a `selection.CallSelection`; the stand-ins
that record each call are in `recorder`, the records they leave in `calls`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from ..errors import GradvizError
from ..history import History
from .calls import BackwardCall, Capture
from .recorder import Recorder
from .selection import CallSelection, Keep

__all__ = ["BackwardCall", "Capture", "capture"]

Params = Mapping[str, torch.Tensor] | Callable[[], Mapping[str, torch.Tensor]]
"""Tensors to name: ``{name: tensor}``, or a function returning one (called at each call)."""


@contextmanager
def capture(
    *,
    params: Params | None = None,
    auto_names: bool = True,
    show_saved: bool = False,
    show_attrs: bool = False,
    show_inputs: bool = False,
    source: bool = False,
    modules: bool = False,
    op_shapes: bool | None = None,
    namespace: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    keep: Keep | CallSelection = "all",
    on_record: Callable[[BackwardCall], None] | None = None,
    diagnose: bool = False,
    history: bool = False,
) -> Iterator[Capture]:
    """Record every backward call made inside the ``with`` block: ``Tensor.backward``,
    ``torch.autograd.backward`` and ``torch.autograd.grad`` (with ``create_graph=True`` too;
    a leaf's ``grad`` in its graph is then the gradient ``grad`` returned for it).

    >>> with capture() as cap:
    ...     loss.backward()
    >>> render(cap.graph, "loss.svg")

    Args:
        params: ``{name: tensor}`` naming tensors, as for `build_graph`, or a function
            returning one, called at each backward call. These names win over automatic ones.
        auto_names: also name tensors by the variables that hold them in the code that called
            backward (its locals, then its globals; ``nn.Module`` parameters by path).
        show_saved, show_attrs, show_inputs: as for `build_graph`.
        source: record each op's forward call site (`sources.SourceTagger`: about 10 µs per
            torch call on this thread); once the calls to keep are recorded (``keep="first"``
            or N), it is turned off again.
        modules: record which ``nn.Module`` made each op (`modules.ModuleTagger`); also only
            until the kept calls are recorded.
        op_shapes: as for `build_graph`.
        namespace: where module variable names come from (default: the locals and globals of
            the code that enters the block).
        keep: ``"all"`` (default), ``"first"``, ``"last"``, a 1-based call number, or the
            name of a call made inside one (``"1.1"``); calls not kept are not walked, which
            keeps long training loops cheap. ``"first"``, ``"last"`` and numbers count only the
            program's own calls, not those made inside them (see `BackwardCall.inner`). A
            `selection.CallSelection` (what ``--call`` parses into) is taken as it is.
        on_record: called with the call ``keep`` names (``"first"``, N, ``"1.1"``) as soon as
            it is recorded, before the program goes on: so that it can be written before the
            program ends, however it ends. It must not raise.
        diagnose: watch forward and backward for autograd's pitfalls (`doctor.session`) for the
            whole block, and set ``findings`` when it ends. The watch also records each op's
            line: recorded graphs then have their sources, as with ``source=True``.
        history: keep every call of a long run small: each call's gradients as figures in
            ``history`` (`History`: one graph per structure), and only the last call in
            ``calls``. ``keep`` must then be ``"all"``. ``source`` and ``modules`` tag the
            forward passes until a call has the structure of the one before it: the graph the
            history keeps for it has them, and later calls need only their gradients.
    """
    selection = CallSelection.of(keep)
    if history and selection.kind != "all":
        raise GradvizError(f'capture(history=True) records every call: keep="all", not {keep!r}')
    result = Capture(history=History() if history else None)
    recorder = Recorder(
        result,
        {
            "show_saved": show_saved,
            "show_attrs": show_attrs,
            "show_inputs": show_inputs,
            "source": source or diagnose,  # the doctor's watch records the lines anyway
            "modules": modules,
            "op_shapes": op_shapes,
        },
        params=params,
        auto_names=auto_names,
        selection=selection,
        on_record=on_record,
    )
    recorder.start(namespace, source=source, modules=modules, diagnose=diagnose)
    try:
        yield result
    finally:
        recorder.stop()
