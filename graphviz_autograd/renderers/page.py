"""The explorer page's parts: its markup, its code, and the escaping that keeps data inert.

`html.to_html` fills them with a graph's data (`explorer_page`); `diff_page` puts two of them
side by side. The code is ``static/explorer-PART.js`` (`EXPLORER_PARTS`), the sections of one
closure; the layout library is ``static/viz-global.js``, vendored by ``scripts/vendor.py``.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any, Final

__all__ = [
    "BODY",
    "EXPLORER_PARTS",
    "HEAD",
    "explorer_code",
    "explorer_page",
    "json_in_html",
    "script_safe",
    "static",
]


def static(name: str) -> str:
    """The text of ``static/NAME``, shipped with the package."""
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


EXPLORER_PARTS: Final = ("data", "layout", "draw", "interact", "table", "steps")
"""The explorer's code, ``static/explorer-PART.js``, in the order data flows; the parts are the
sections of one closure, so that each sees what the ones before it define."""

_EXPLORER_HEAD: Final = """\
/* gradviz explorer: the graph in the page's JSON, laid out by Graphviz (viz-global.js) and
 * navigated here. Its parts, in the order data flows: data (read the JSON once), layout (what
 * is visible now, as DOT), draw (Graphviz's SVG, tagged with data-node / data-module; pan and
 * zoom), interact (click, search, fold and unfold, the details panel), table (the nodes or
 * modules as sortable rows), steps (a whole run's calls: the step control, shading per step,
 * the flow view).
 *
 * Names are data: text reaches the DOM only through textContent and setAttribute, and reaches
 * Graphviz only through quote(), which writes a DOT string as renderers/dot.py does.
 */
"use strict";
(function () {
"""


def explorer_code() -> str:
    """The explorer's code: its parts (`EXPLORER_PARTS`) as one closure."""
    parts = (static(f"explorer-{part}.js") for part in EXPLORER_PARTS)
    return _EXPLORER_HEAD + "".join(parts) + "})();\n"


def script_safe(code: str) -> str:
    """``code`` inlined in ``<script>``: no ``</script`` or ``<!--`` may end or confuse it."""
    return re.sub(r"</(script)", r"<\\/\1", code, flags=re.IGNORECASE).replace("<!--", "<\\!--")


_JSON_ESCAPES: Final = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_in_html(value: Any) -> str:
    """``value`` as JSON that can sit inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(_JSON_ESCAPES)


def explorer_page(title: str, data: Any) -> str:
    """The page: markup, ``data`` as JSON, the layout library and the explorer's code."""
    return "".join(
        (
            HEAD.format(title=html.escape(title), css=static("explorer.css")),
            BODY,
            '<script type="application/json" id="gradviz-data">',
            json_in_html(data),
            "</script>\n<script>",
            script_safe(static("viz-global.js")),
            "</script>\n<script>",
            script_safe(explorer_code()),
            "</script>\n</body>\n</html>\n",
        )
    )


# No request leaves the page: everything is inline, and the policy forbids the rest.
HEAD: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}</style>
</head>
"""

BODY: Final = """<body>
<header>
  <div id="searchbox">
    <input type="search" id="search" placeholder="search name, op, module, source, regex" \
aria-label="search nodes" aria-controls="results">
    <div id="results" role="listbox" aria-label="search results" hidden></div>
  </div>
  <button type="button" id="prev" title="previous match (Shift+Enter)">&#8593;</button>
  <button type="button" id="next" title="next match (Enter)">&#8595;</button>
  <span id="found" aria-live="polite"></span>
  <button type="button" id="fit" title="fit the graph to the window (F)">fit</button>
  <button type="button" id="table-toggle" aria-pressed="false" aria-controls="table" \
title="a table of the nodes or modules, sortable and filterable">table</button>
  <span id="status" aria-live="polite">laying out…</span>
</header>
<div id="steps" hidden>
  <button type="button" id="play" title="play / pause (Space)" aria-label="play">&#9654;</button>
  <div id="track"><input type="range" id="step" min="0" max="0" value="0" \
aria-label="step"><div id="changes"></div></div>
  <span id="step-name" aria-live="polite"></span>
  <span id="step-note"></span>
  <button type="button" id="flow-toggle" aria-pressed="false" \
title="each layer's gradient norm over the steps">gradient flow</button>
</div>
<main>
  <aside id="findings" aria-label="findings" hidden></aside>
  <aside id="flow" aria-label="gradient flow" hidden></aside>
  <div id="canvas" tabindex="0" aria-label="graph"></div>
  <aside id="details"><p class="hint">Click a node for its details. Click anywhere in a \
module's frame to fold it; click a folded module to open it. Drag to pan, wheel to zoom. A big \
graph opens zoomed in to read, at its loss: <kbd>F</kbd> (or <b>fit</b>) shows all of it.</p>\
</aside>
</main>
<section id="table" aria-label="table of the graph" hidden>
  <div class="bar">
    <select id="table-rows" aria-label="rows"><option value="nodes">nodes</option>\
<option value="modules">modules</option></select>
    <input type="text" id="table-filter" placeholder="filter: text or regular expression" \
aria-label="filter rows">
    <span id="table-count" aria-live="polite"></span>
  </div>
  <div class="rows"><table><thead><tr></tr></thead><tbody></tbody><tfoot></tfoot></table></div>
</section>
<footer id="notes"></footer>
"""
