"""Finding where a sequence repeats itself: the runs of equal block signatures along a path
that `fold_series` folds."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Run", "periodic_runs"]


class Run(NamedTuple):
    """``seq[start : start + repeats * period]`` is ``seq[start : start + period]`` repeated."""

    start: int
    period: int
    repeats: int
    """2 or more."""


class _Span(NamedTuple):
    """Positions ``lo`` to ``hi`` (excluded) of the sequence, not in a run yet."""

    lo: int
    hi: int


def periodic_runs(seq: list[int], max_period: int) -> list[Run]:
    """Non-overlapping runs where ``seq`` repeats itself.

    Smallest periods first. The last item never belongs to a run: it is the bottom of a path,
    whose block has no spine input to feed the kept blocks.
    """
    free = [_Span(lo=0, hi=len(seq) - 1)]
    runs: list[Run] = []
    for p in range(1, max_period + 1):
        left: list[_Span] = []
        for span in free:
            lo, hi = span.lo, span.hi
            i = lo
            while i + p < hi:
                if seq[i] != seq[i + p]:
                    i += 1
                    continue
                j = i
                while j + p < hi and seq[j] == seq[j + p]:
                    j += 1
                reps = (j - i) // p + 1  # the run is seq[i : i + reps * p], within [lo, hi)
                if reps < 2:
                    i = j + 1
                    continue
                runs.append(Run(start=i, period=p, repeats=reps))
                if i > lo:
                    left.append(_Span(lo=lo, hi=i))
                lo = i = i + reps * p
            if hi - lo > 2 * p:
                left.append(_Span(lo=lo, hi=hi))
        free = left
        if not free:
            break
    return runs
