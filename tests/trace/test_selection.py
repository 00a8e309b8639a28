"""`CallSelection` (what --call and capture(keep=) name) and `formats.resolve`: pure, no torch."""

from __future__ import annotations

from typing import Any

import pytest

from graphviz_autograd.errors import GradvizError
from graphviz_autograd.renderers.formats import resolve
from graphviz_autograd.trace.selection import CallSelection, call_path


@pytest.mark.parametrize(
    ("text", "kind", "path", "written"),
    [
        ("first", "first", (), "first"),
        ("last", "last", (), "last"),
        ("all", "all", (), "all"),
        ("2", "one", (2,), "2"),
        ("2.1", "one", (2, 1), "2.1"),
        ("1.2.3", "one", (1, 2, 3), "1.2.3"),
    ],
)
def test_parse_reads_each_way_of_naming_calls(
    text: str, kind: str, path: tuple[int, ...], written: str
) -> None:
    selection = CallSelection.parse(text)
    assert selection == CallSelection(kind, path)  # type: ignore[arg-type]
    assert str(selection) == written
    assert CallSelection.of(text) == selection


@pytest.mark.parametrize("text", ["0", "1.0", "", "x", "1.", ".1", "-1", "first.1"])
def test_parse_refuses_what_names_no_call(text: str) -> None:
    assert CallSelection.parse(text) is None
    with pytest.raises(GradvizError, match="keep="):
        CallSelection.of(text)


def test_of_takes_numbers_and_selections() -> None:
    assert CallSelection.of(3) == CallSelection("one", (3,))
    selection = CallSelection("last")
    assert CallSelection.of(selection) is selection
    with pytest.raises(GradvizError, match="call numbers start at 1, not 0"):
        CallSelection.of(0)


def test_target_and_wants() -> None:
    assert CallSelection("first").target == (1,)
    assert CallSelection("last").target is None and CallSelection("all").target is None
    inner = CallSelection("one", (2, 1))
    assert inner.target == (2, 1) and inner.inner and not CallSelection("one", (2,)).inner
    assert inner.wants((2, 1)) and not inner.wants((2,))
    assert CallSelection("all").wants((5, 1))
    assert CallSelection("last").wants((5,)) and not CallSelection("last").wants((5, 1))
    assert call_path("10.2") == (10, 2) and call_path("a") is None


class _Call:
    def __init__(self, name: str) -> None:
        self.name = name
        self.inner = tuple(int(p) for p in name.split(".")[1:])


def test_pick_counts_own_calls_for_first_and_last() -> None:
    calls: list[Any] = [_Call("1"), _Call("1.1"), _Call("2"), _Call("2.1")]
    assert CallSelection("first").pick(calls).name == "1"  # type: ignore[union-attr]
    assert CallSelection("last").pick(calls).name == "2"  # type: ignore[union-attr]
    assert CallSelection("one", (2, 1)).pick(calls).name == "2.1"  # type: ignore[union-attr]
    assert CallSelection("one", (3,)).pick(calls) is None
    assert CallSelection("first").pick([]) is None


@pytest.mark.parametrize(
    ("path", "fmt", "found"),
    [
        ("g.svg", None, "svg"),
        ("G.PNG", None, "png"),
        ("g.gv", None, "dot"),
        ("g.mmd", None, "mermaid"),
        ("g.txt", "json", "json"),
        ("-", "dot", "dot"),
        ("g.txt", None, None),
        ("g", None, None),
    ],
)
def test_resolve_prefers_the_format_then_the_extension(
    path: str, fmt: str | None, found: str | None
) -> None:
    assert resolve(path, fmt) == found


def test_resolve_refuses_an_unknown_format_name() -> None:
    with pytest.raises(GradvizError, match="unknown format 'gif'"):
        resolve("g.svg", "gif")
