"""Which rank of a torchrun job this process is, which ranks write, and where each writes."""

from __future__ import annotations

import pytest

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.ranks import Rank, RankSelection, rank_path


def test_the_rank_comes_from_torchruns_variables() -> None:
    assert Rank.from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Rank(1, 2)
    assert str(Rank(1, 2)) == "rank 1 of 2"
    assert Rank.from_env({}) is None  # not a job
    assert Rank.from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None  # a job of one
    assert Rank.from_env({"RANK": "x", "WORLD_SIZE": "2"}) is None


def test_rank_0_writes_by_default_and_all_or_some_when_asked() -> None:
    default = RankSelection()
    assert default.chooses(Rank(0, 2)) and not default.chooses(Rank(1, 2))
    assert default.chooses(None)  # outside a job there is one process: it writes
    assert RankSelection.parse("all") == RankSelection(None)
    assert RankSelection.parse("all").chooses(Rank(3, 4))  # type: ignore[union-attr]
    some = RankSelection.parse("0, 2")
    assert some == RankSelection(frozenset({0, 2}))
    assert RankSelection.parse("first") is None and RankSelection.parse("-1") is None


def test_a_rank_past_the_jobs_last_is_refused() -> None:
    with pytest.raises(GradvizError, match="--ranks 2: the job has ranks 0 to 1"):
        RankSelection(frozenset({0, 2})).check(Rank(0, 2))
    RankSelection(frozenset({5})).check(None)  # outside a job: nothing to check


def test_rank_0_writes_the_name_given_the_others_a_name_of_their_own() -> None:
    assert rank_path("out/g.svg", Rank(0, 2)) == "out/g.svg"
    assert rank_path("out/g.svg", Rank(1, 2)) == "out/g.rank1.svg"
    assert rank_path("g-1.json", Rank(3, 4)) == "g-1.rank3.json"
    assert rank_path("-", Rank(1, 2)) == "-"
    assert rank_path("g.svg", None) == "g.svg"
