"""Which backward calls to record and draw: ``first``, ``last``, ``all``, the N-th, or a call
made inside another (``"2.1"``), parsed once into a `CallSelection` that `capture` and the
commands share. Torch-free, so that the command line checks ``--call`` before torch loads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from ..errors import GradvizError

if TYPE_CHECKING:
    from .record import BackwardCall

__all__ = ["CallSelection", "Keep", "call_path"]

Keep: TypeAlias = Literal["all", "first", "last"] | int | str
"""Which calls to record: every one, the program's first, its last, its N-th (1-based), or a
call made inside another, by name (``"1.1"``, see `BackwardCall.name`)."""

Kind: TypeAlias = Literal["all", "first", "last", "one"]


def call_path(text: str) -> tuple[int, ...] | None:
    """``(2, 1)`` for the call name ``"2.1"`` (numbers from 1, dot-separated); None when
    ``text`` is not one."""
    parts = text.split(".")
    if not all(p.isdigit() and int(p) >= 1 for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True, slots=True)
class CallSelection:
    """One way of choosing calls: ``all``, ``first``, ``last``, or ``one`` (the call at
    ``path``)."""

    kind: Kind
    path: tuple[int, ...] = ()
    """For ``one``: ``number, *inner`` of the call (see `BackwardCall`): ``(2,)``, ``(2, 1)``."""

    @classmethod
    def of(cls, keep: Keep | CallSelection) -> CallSelection:
        """The selection a `capture` ``keep=`` value names.

        Raises:
            GradvizError: ``keep`` names no call.
        """
        if isinstance(keep, CallSelection):
            return keep
        if keep in ("all", "first", "last"):
            return cls(keep)  # type: ignore[arg-type]
        if isinstance(keep, int):
            if keep < 1:
                raise GradvizError(f"call numbers start at 1, not {keep}")
            return cls("one", (keep,))
        path = call_path(keep) if isinstance(keep, str) else None
        if path is None:
            raise GradvizError(
                f"keep={keep!r}: use 'all', 'first', 'last', a call number from 1, or the name "
                "of a call made inside one, like '1.1'"
            )
        return cls("one", path)

    @classmethod
    def parse(cls, text: str) -> CallSelection | None:
        """The selection ``--call`` ``text`` names (first, last, all, N, N.K); None if none."""
        if text in ("all", "first", "last"):
            return cls(text)  # type: ignore[arg-type]
        path = call_path(text)
        return None if path is None else cls("one", path)

    @property
    def target(self) -> tuple[int, ...] | None:
        """The path of the one call this selects; None for ``all`` and ``last``."""
        if self.kind == "first":
            return (1,)
        return self.path if self.kind == "one" else None

    @property
    def inner(self) -> bool:
        """Whether this selects a call made inside another (``2.1``)."""
        return len(self.path) > 1

    def wants(self, path: tuple[int, ...]) -> bool:
        """Whether the call at ``path`` is to be recorded."""
        return self.kind == "all" or path == self.target or (self.kind == "last" and len(path) == 1)

    def pick(self, calls: Sequence[BackwardCall]) -> BackwardCall | None:
        """The recorded call this names among ``calls`` (first and last count the program's
        own calls only), or None."""
        own = [call for call in calls if not call.inner]
        if self.kind == "first":
            return own[0] if own else None
        if self.kind == "last":
            return own[-1] if own else None
        name = str(self)
        return next((call for call in calls if call.name == name), None)

    def __str__(self) -> str:
        """As written: ``first``, ``all``, ``2``, ``2.1``."""
        return ".".join(map(str, self.path)) if self.kind == "one" else self.kind
