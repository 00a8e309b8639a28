"""Draw a Mermaid file with the pinned Mermaid (scripts/fetch_mermaid.py) in headless Chromium,
and save a screenshot of the page: how the README's Mermaid picture is made.

Usage: python scripts/mermaid_page.py IN.mmd OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from fetch_mermaid import fetch
from playwright.sync_api import sync_playwright

PAGE = '<!doctype html><meta charset="utf-8"><body style="margin:0;background:#fff">'
DRAW = """async text => {
  mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
  const {svg} = await mermaid.render("graph", text);
  const box = document.createElement("div");
  box.id = "out";
  box.style = "display:inline-block;padding:12px";
  box.innerHTML = svg;
  document.body.append(box);
}"""


def main(source: Path, target: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(device_scale_factor=2)
            page.set_content(PAGE)
            page.add_script_tag(path=str(fetch()))
            page.evaluate(DRAW, source.read_text(encoding="utf-8"))
            page.locator("#out").screenshot(path=str(target))
        finally:
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
