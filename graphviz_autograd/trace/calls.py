"""The records a `record.capture` block leaves: each backward call recorded, and the block's
tally of calls and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import GradvizError
from ..history import History
from ..model import Graph

if TYPE_CHECKING:  # the doctor and the Python API are later stages: their types only
    from ..api import Explorer
    from ..doctor.findings import Finding

__all__ = ["BackwardCall", "Capture", "call_name", "call_path"]


@dataclass(frozen=True, slots=True)
class BackwardCall:
    """One recorded ``backward`` call."""

    number: int
    """1-based position among the program's own backward calls: those made while no other was
    running. A call made inside another has the number of the outermost one."""
    graph: Graph
    """The graph as the engine was about to run it, with the gradients after the call: each
    op's gradient with respect to its output(s), each leaf's ``.grad``, and the order in which
    the engine ran the nodes."""
    error: str | None = None
    """The exception backward raised, if it did (the graph is still recorded)."""
    inner: tuple[int, ...] = ()
    """``()`` for the program's own calls. For a call made while another was running, where it
    sits: ``(1,)`` is the first call made inside call ``number``, ``(1, 2)`` the second made
    inside that one. The engine makes such calls, not the program: a reentrant checkpoint's
    backward runs its forward again and then backward through it (see `checkpoints`)."""

    @property
    def name(self) -> str:
        """``"2"``: the program's second call; ``"2.1"``: the first call made inside it."""
        return call_name((self.number, *self.inner))


@dataclass(slots=True)
class Capture:
    """What a `capture()` block recorded so far."""

    calls: list[BackwardCall] = field(default_factory=list)
    """Recorded calls (only the kept ones, see ``keep``) in the order they started: a call made
    inside another follows it."""
    count: int = 0
    """How many backward calls the program made, kept or not (calls made inside them aside)."""
    inner_count: int = 0
    """How many calls were made inside those (see `BackwardCall.inner`), kept or not."""
    history: History | None = None
    """With ``capture(history=True)``: every call the program made, as figures on the graphs of
    their structures; ``calls`` then keeps the last call only, so that a long run stays small."""
    findings: list[Finding] = field(default_factory=list)
    """With ``capture(diagnose=True)``: what the doctor found, set when the block ends
    (errors first; see docs/doctor.md)."""

    def explore(self, **options: Any) -> Explorer:
        """Every call recorded on one explorer page, with a step control (`api.explore`):
        Jupyter shows it inline, ``.save("run.html")`` writes it. Draw options only."""
        from ..api import explore  # a later stage, loaded when asked

        return explore(self, **options)

    @property
    def graph(self) -> Graph:
        """The graph of the last recorded call the program made (or of a call made inside one,
        when only such calls were kept)."""
        if not self.calls:
            raise GradvizError("no backward call was recorded")
        own = [call for call in self.calls if not call.inner]
        return (own or self.calls)[-1].graph


def call_path(call: BackwardCall) -> tuple[int, ...]:
    """``number, *inner`` of ``call``: calls sort by it, a call before those made inside it."""
    return (call.number, *call.inner)


def call_name(path: tuple[int, ...]) -> str:
    """The name of the call at ``path`` (`BackwardCall.name`): ``(2, 1)`` -> ``"2.1"``."""
    return ".".join(map(str, path))
