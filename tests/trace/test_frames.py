"""The one finder of user frames, and the walk that tags the nodes a torch call made."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import torch

import graphviz_autograd
from graphviz_autograd.trace import modes
from graphviz_autograd.trace.frames import call_site, is_user_file, user_caller, user_frame
from graphviz_autograd.trace.modes import tag_made


def test_user_files_are_those_outside_torch_gradviz_and_contextlib() -> None:
    assert is_user_file(__file__)
    assert not is_user_file(torch.__file__)
    assert not is_user_file(graphviz_autograd.__file__)
    assert not is_user_file(modes.__file__)
    assert not is_user_file(str(contextlib.__file__))
    assert is_user_file(torch.__file__.replace("/torch/", "/torchvision/"))  # not a prefix


def test_the_user_frame_of_a_user_frame_is_itself_and_the_caller_is_found_from_inside() -> None:
    here = inspect.currentframe()
    assert user_frame(here) is here
    assert user_caller() is here  # walked out of frames.py
    assert call_site() == (__file__, inspect.currentframe().f_lineno)  # type: ignore[union-attr]


class FakeNode:
    """What `tag_made` reads of an autograd node."""

    def __init__(self, number: int, *inputs: FakeNode | None) -> None:
        self.number = number
        self.metadata: dict[str, Any] = {}
        self.next_functions = tuple((node, 0) for node in inputs)

    def _sequence_nr(self) -> int:
        return self.number


def test_tag_made_tags_the_nodes_numbered_in_the_range_once_and_stops_at_the_rest() -> None:
    old = FakeNode(1)
    tagged = FakeNode(5)
    tagged.metadata["k"] = "before"
    behind_tagged = FakeNode(6)
    tagged.next_functions = ((behind_tagged, 0),)
    leaf = FakeNode(2**64 - 1)
    inner = FakeNode(10, old, leaf, None)
    top = FakeNode(11, inner, inner, tagged)
    seen: list[int] = []

    def tag(number: int) -> str:
        seen.append(number)
        return f"t{number}"

    tag_made([top, None], "k", 5, 12, tag)
    assert top.metadata == {"k": "t11"} and inner.metadata == {"k": "t10"}
    assert sorted(seen) == [10, 11]  # each once, though two edges lead to inner
    assert old.metadata == {} and leaf.metadata == {}  # older; an AccumulateGrad
    assert tagged.metadata == {"k": "before"} and behind_tagged.metadata == {}  # stopped there
