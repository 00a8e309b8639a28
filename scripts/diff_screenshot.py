"""docs/images/diff-page.png: `gradviz diff` of a 2-layer and a 3-layer GPT-2, in Chromium.

    .venv/bin/python scripts/diff_screenshot.py   # needs Chromium, Playwright, the bench extra

With Pillow importable, the picture is cut to 256 colours (270 KB -> 80 KB, the colours kept).

The final layer norm clicked in A: B selects its match, each pane lights the paths through it and
its details show how its gradient changed; both panes fitted, B's added block (`h.2`) outlined
green.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "images" / "diff-page.png"

# GPT-2 from its config (random weights, nothing downloaded), as benchmarks/models.py builds it
GPT2 = """\
import torch
from transformers import GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
config = GPT2Config(n_layer={layers}, n_embd=128, n_head=4, vocab_size=1000, n_positions=64,
                    bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(config)
ids = torch.randint(0, 1000, (2, 16))
model(input_ids=ids, labels=ids).loss.backward()
"""


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-diff-"))
    for layers in (2, 3):
        (tmp / f"gpt2-{layers}.py").write_text(GPT2.format(layers=layers))
    command = [sys.executable, "-m", "graphviz_autograd", "diff", "gpt2-2.py", "gpt2-3.py"]
    subprocess.run([*command, "-o", "diff.html"], cwd=tmp, check=False, capture_output=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto((tmp / "diff.html").as_uri())
            page.wait_for_selector("body[data-state=ready]")
            a, b = page.frame_locator("#pane-a"), page.frame_locator("#pane-b")
            a.locator("#fit").click()
            a.locator("g.node", has_text="NativeLayerNormBackward0").last.dispatch_event("click")
            b.locator("g.node.selected").wait_for()
            b.locator("#fit").click()  # B centred its match; fitted, its added block shows
            page.wait_for_timeout(300)
            page.screenshot(path=str(TARGET))
        finally:
            browser.close()
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(TARGET) as image:
        fewer = image.convert("RGB").quantize(
            256, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    fewer.save(TARGET, optimize=True)


if __name__ == "__main__":
    main()
