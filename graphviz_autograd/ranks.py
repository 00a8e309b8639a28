"""Which process of a distributed job this is, and which ranks write: torch-free, read from the
environment ``torchrun`` sets (``RANK``, ``WORLD_SIZE``), so that gradviz knows its rank before
the script initialises ``torch.distributed``, and without it.

Under ``torchrun`` every rank runs the whole command and the same gradviz code, so that gradviz
never makes a collective call on some ranks only (it makes none); only the chosen ranks write
and print: rank 0 by default, which writes ``g.svg``; with ``--ranks all`` rank 1 writes
``g.rank1.svg``, and so on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import GradvizError
from .files import is_special

__all__ = ["Rank", "RankSelection", "rank_path"]


@dataclass(frozen=True, slots=True)
class Rank:
    """This process's place in a distributed job."""

    rank: int
    world_size: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Rank | None:
        """The rank ``torchrun`` gave this process; None outside a job of two or more
        processes (or when the variables are not numbers)."""
        env = os.environ if environ is None else environ
        try:
            rank, size = int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))
        except ValueError:
            return None
        return cls(rank, size) if size > 1 and 0 <= rank < size else None

    def __str__(self) -> str:
        return f"rank {self.rank} of {self.world_size}"


@dataclass(frozen=True, slots=True)
class RankSelection:
    """The ranks that write and print (``--ranks``): ``all``, or some by number."""

    ranks: frozenset[int] | None = frozenset({0})
    """None: every rank."""

    @classmethod
    def parse(cls, text: str) -> RankSelection | None:
        """``all``, or rank numbers separated by commas (``0``, ``0,3``); None if neither."""
        if text.strip() == "all":
            return cls(None)
        parts = [part.strip() for part in text.split(",")]
        if not all(part.isdigit() for part in parts):
            return None
        return cls(frozenset(int(part) for part in parts))

    def chooses(self, rank: Rank | None) -> bool:
        """Whether ``rank`` (None: not a distributed job) writes and prints."""
        return rank is None or self.ranks is None or rank.rank in self.ranks

    def check(self, rank: Rank | None) -> None:
        """Raise unless every rank chosen is one of the job's.

        Raises:
            GradvizError: a rank chosen is past the job's last.
        """
        if rank is None or self.ranks is None:
            return
        past = sorted(n for n in self.ranks if n >= rank.world_size)
        if past:
            raise GradvizError(
                f"--ranks {','.join(map(str, past))}: the job has ranks 0 to {rank.world_size - 1}"
            )


def rank_path(path: str, rank: Rank | None) -> str:
    """Where ``rank`` writes the file ``path`` names: ``path`` itself on rank 0 (and outside a
    job), ``g.rank1.svg`` on rank 1; ``-`` (stdout) and a device or FIFO (``/dev/null``)
    stay as they are."""
    if rank is None or rank.rank == 0 or path == "-" or is_special(path):
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}.rank{rank.rank}{p.suffix}"))
