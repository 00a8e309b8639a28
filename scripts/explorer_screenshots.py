"""The explorer's pictures in docs/images, made from samples/ and benchmarks/ in Chromium.

    .venv/bin/python scripts/explorer_screenshots.py   # needs Chromium and Playwright

- explorer.png: samples/gradient_flow.py, a node clicked (its details, its paths lit), a search.
- explorer-folded.png: a 6-layer transformer encoder, open with its layers folded.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
GRADVIZ = str(Path(sys.executable).with_name("gradviz"))


def page_of(tmp: Path, name: str, args: list[str]) -> Path:
    out = tmp / f"{name}.html"
    subprocess.run([GRADVIZ, "run", *args[:1], "-o", str(out), *args[1:]], check=True, cwd=ROOT)
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-shots-"))
    flow = page_of(tmp, "flow", ["samples/gradient_flow.py", "--show-order"])
    layers = page_of(tmp, "layers", ["benchmarks/make_graph.py", "--", "transformer-6"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 640})
            page.goto(flow.as_uri())
            page.wait_for_selector("body[data-state=ready]")
            node = page.locator("g.node", has_text="TanhBackward0").nth(1)
            node.click()
            node.hover()
            page.mouse.wheel(0, -500)  # zoom in around it
            page.fill("input[type=search]", "Addmm")
            page.screenshot(path=str(IMAGES / "explorer.png"))
            page.goto(layers.as_uri())
            page.wait_for_selector("body[data-state=ready]")
            page.set_viewport_size({"width": 1100, "height": 560})
            page.click("#fit")
            page.screenshot(path=str(IMAGES / "explorer-folded.png"))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
