"""A `Comparison` of two graphs -> one self-contained HTML page: the explorer of each graph side
by side, A on the left and B on the right, with what differs marked and navigation synced.

Each pane is an explorer page (`html.to_html`) in an ``<iframe srcdoc>``, given the comparison
as marks (`marks.Mark`, as the doctor's findings are given): in A the nodes removed (in A
only, red) and changed (orange), in B the nodes added (in B only, green) and changed; a mark
lists what changed, with the ratio of the gradient norms (`diff.change_lines`). The explorer
outlines marked nodes, lists the marks beside the graph and shows them in a node's details.

The two panes talk to the page holding them (``static/diff-pane.js`` in each, the page's own
``static/diff-page.js``): a node selected in one is selected and centred in the other through
the comparison's matched pairs; a module folded or opened in one is in the other, where the
other has it. The layout library (``viz-global.js``, 1.3 MB) is in the page once: each pane's
document is written in the page as the text before and after it, and put together there.
"""

from __future__ import annotations

import html
from typing import Final

from ..model import Graph, Node
from ..text import count_of
from ..transform.diff import Change, Comparison
from .diff import change_lines
from .html import to_html
from .labels import title
from .marks import Mark
from .page import HEAD, json_in_html, script_safe, static

__all__ = ["DIFF_MARKS", "diff_marks", "to_diff_html"]

DIFF_MARKS: Final = {
    "added": "#2f9e44",
    "removed": "#e03131",
    "changed": "#f08c00",
}
"""What a marked node is -> the colour of its outline, in the panes and the page's legend."""


def _mark(what: str, code: str, message: str, node: Node) -> Mark:
    return Mark(code, what, message, "", (node.id,), node.source, DIFF_MARKS[what])


def _changed(change: Change, node: Node) -> Mark:
    """A changed node's mark: the fields that changed, then one line per field."""
    return _mark("changed", ", ".join(change.fields), "; ".join(change_lines(change)), node)


def diff_marks(comparison: Comparison) -> tuple[tuple[Mark, ...], tuple[Mark, ...]]:
    """The marks drawn on graph A (removed and changed nodes) and on graph B (added and changed
    nodes), each in its graph's node order."""
    c = comparison
    on_a = {n.id: _mark("removed", "in A only", f"{title(n)}: no match in B", n) for n in c.removed}
    on_b = {n.id: _mark("added", "in B only", f"{title(n)}: no match in A", n) for n in c.added}
    for change in c.changed:
        on_a[change.a.id] = _changed(change, change.a)
        on_b[change.b.id] = _changed(change, change.b)
    return _in_order(c.a, on_a), _in_order(c.b, on_b)


def _in_order(graph: Graph, marks: dict[str, Mark]) -> tuple[Mark, ...]:
    return tuple(marks[node.id] for node in graph.nodes if node.id in marks)


# Each pane: the findings panel and the details share one column beside the graph, so that
# half a window still leaves the graph room; marks have no fix to show.
_PANE_STYLE: Final = """<style>
main { display: grid; grid-template-columns: minmax(0, 1fr) 19em;
  grid-template-rows: minmax(0, 2fr) minmax(0, 3fr); }
#canvas { grid-column: 1; grid-row: 1 / 3; }
#findings { grid-column: 2; grid-row: 1; width: auto; border-right: 0;
  border-left: 1px solid #ddd; border-bottom: 1px solid #ddd; }
#details { grid-column: 2; grid-row: 2; width: auto; }
#findings[hidden] ~ #details { grid-row: 1 / 3; }
header input[type=search] { width: 11em; }
.finding .fix { display: none; }
"""


def _pane(graph: Graph, folded: Graph, marks: tuple[Mark, ...], name: str) -> list[str]:
    """An explorer page of ``graph`` with ``marks``, as the text before and after its layout
    library (the page holds the library once)."""
    page = to_html(graph, folded=folded, marks=marks, title=f"gradviz diff: {name}")
    library = script_safe(static("viz-global.js"))
    before, found, after = page.partition(library)
    if not found:
        raise AssertionError("the explorer page does not inline viz-global.js")
    style = "".join(
        f".finding[data-severity={w}] .severity {{ color: {c}; }}\n" for w, c in DIFF_MARKS.items()
    )
    before = before.replace("</head>", _PANE_STYLE + style + "</style>\n</head>", 1)
    bridge = f"<script>{script_safe(static('diff-pane.js'))}</script>\n</body>"
    return [before, after.replace("</body>", bridge, 1)]


def to_diff_html(
    comparison: Comparison,
    *,
    folded_a: Graph,
    folded_b: Graph,
    a_name: str = "A",
    b_name: str = "B",
) -> str:
    """The page comparing graph A (named ``a_name``) with graph B: their explorers side by side,
    opening folded as ``folded_a`` and ``folded_b`` (``fold.fold`` of each; the graph itself for
    none), what differs marked and navigation synced."""
    c = comparison
    marks_a, marks_b = diff_marks(c)
    data = {
        "format": "gradviz-diff-page",
        "version": 1,
        "a": _pane(c.a, folded_a, marks_a, f"A = {a_name}"),
        "b": _pane(c.b, folded_b, marks_b, f"B = {b_name}"),
        "matched": [list(pair) for pair in c.matched],
    }
    return "".join(
        (
            HEAD.format(title=html.escape(f"gradviz diff: {a_name} → {b_name}"), css=_PAGE_STYLE),
            _header(c, a_name, b_name),
            '<script type="application/json" id="gradviz-diff">',
            json_in_html(data),
            '</script>\n<script type="text/plain" id="gradviz-viz">',
            script_safe(static("viz-global.js")),
            "</script>\n<script>",
            script_safe(static("diff-page.js")),
            "</script>\n</body>\n</html>\n",
        )
    )


def _header(c: Comparison, a_name: str, b_name: str) -> str:
    """The bar above the panes: what A and B are, what differs, the colours, the sync switch."""
    summary = f"{len(c.added):,} added, {len(c.removed):,} removed, {len(c.changed):,} changed" + (
        "" if c.same_structure else "; structure differs"
    )
    legend = "".join(
        f'<span class="key"><span class="swatch" style="border-color: {colour}"></span>'
        f" {what}</span>"
        for what, colour in DIFF_MARKS.items()
    )
    sides = "".join(
        f'<span class="side" data-side="{side}"><b>{side.upper()}:</b> {html.escape(name)}'
        f" ({count_of(len(graph), 'node')})</span>"
        for side, name, graph in (("a", a_name, c.a), ("b", b_name, c.b))
    )
    return (
        f'<body data-state="loading">\n<header>{sides}<span id="summary">{summary}</span>'
        f"{legend}"
        '<label><input type="checkbox" id="sync" checked> sync navigation</label>'
        '<span id="paired" aria-live="polite"></span></header>\n'
        '<main><iframe id="pane-a" title="graph A"></iframe>'
        '<iframe id="pane-b" title="graph B"></iframe></main>\n'
    )


# The page's own style, in the explorer's head (`page.HEAD`): no request leaves the page,
# and the panes inherit its policy.
_PAGE_STYLE: Final = """* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column;
  font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; }
header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; padding: 6px 10px;
  border-bottom: 1px solid #ccc; background: #f3f5f8; }
header .side { overflow-wrap: anywhere; }
#summary { font-weight: 600; }
.swatch { display: inline-block; width: 14px; height: 10px; border: 3px solid;
  vertical-align: -1px; background: #fff; }
#paired { color: #555; margin-left: auto; }
main { flex: 1; display: flex; min-height: 0; }
main iframe { flex: 1; min-width: 0; border: 0; border-right: 2px solid #ccc; }
main iframe:last-child { border-right: 0; }
"""
