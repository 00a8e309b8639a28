"""The explorer's pictures in docs/images, made from samples/ and benchmarks/ in Chromium.

    .venv/bin/python scripts/explorer_screenshots.py   # needs Chromium, Playwright, the bench extra

- explorer.png: samples/gradient_flow.py, a search for `Tanh` and Enter: the first match in the
  middle of the window, its details, its paths lit.
- explorer-folded.png: a 6-layer transformer encoder, open with its layers folded, fitted.
- explorer-open.png: ResNet-18 as it opens in a 1400x900 window: zoomed in to read, at the loss.
- doctor-report.png: `gradviz doctor samples/pitfalls/nan_grad.py -o report.html`, its finding
  clicked: the findings beside the graph, the nodes outlined, the details of the first.
  `--doctor` makes this one only.
- run-steps.png, run-flow.png: `gradviz run benchmarks/gpt2_train.py --call all` (a 4-layer GPT-2
  trained 60 steps; needs transformers): at the last step with `ln_f.weight` selected, its
  details charting its gradient norm over the steps; then the flow view at step 40, a layer
  hovered and lit in the graph. `--run` makes these two only.
- explorer-search.png: a 20-layer GPT-2 (random weights, from its transformers config), a search for
  `c_attn` and a folded-away result chosen: the results by module, the node opened and centred.
- explorer-table.png: the same model captured with its saved tensors, the table open, sorted by
  gradient norm, its first row clicked. `--search-table` makes these two only.
  (These two as committed were re-encoded with 5 bits a colour channel, to stay under 200 KB.)

`--before`, run with an older gradviz installed, makes the first and the last of them as
explorer-search-before.png and explorer-open-before.png, for comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
GRADVIZ = str(Path(sys.executable).with_name("gradviz"))


def page_of(tmp: Path, name: str, args: list[str]) -> Path:
    out = tmp / f"{name}.html"
    subprocess.run([GRADVIZ, "run", *args[:1], "-o", str(out), *args[1:]], check=True, cwd=ROOT)
    return out


def doctor_page(tmp: Path) -> Path:
    out = tmp / "report.html"
    command = [GRADVIZ, "doctor", "samples/pitfalls/nan_grad.py", "-o", str(out)]
    subprocess.run(command, check=False, cwd=ROOT, capture_output=True)  # exit 4: a finding
    return out


def doctor_shot(page: Page, report: Path) -> None:
    opened(page, report, 1280, 640)
    page.click("#findings li.finding")
    page.click("#fit")
    page.screenshot(path=str(IMAGES / "doctor-report.png"))


def run_shots(page: Page, tmp: Path) -> None:
    out = tmp / "gpt2-run.html"
    command = [GRADVIZ, "run", "benchmarks/gpt2_train.py", "--call", "all", "-o", str(out)]
    subprocess.run(command, check=True, cwd=ROOT)
    opened(page, out, 1400, 900)
    name = "model.transformer.ln_f.weight"
    page.locator("g.node[data-node]", has=page.locator("text", has_text=name)).first.click()
    page.screenshot(path=str(IMAGES / "run-steps.png"))
    page.keyboard.press("Escape")
    page.fill("#step", "39")
    page.click("#flow-toggle")
    page.locator("#flow li", has_text="model.transformer.h.3.mlp.c_proj").hover()
    page.screenshot(path=str(IMAGES / "run-flow.png"))


GPT2_20: Final = """import torch
from transformers import GPT2Config, GPT2LMHeadModel

torch.manual_seed(0)
config = GPT2Config(n_layer=20, n_embd=128, n_head=4, vocab_size=1000, n_positions=64,
                    bos_token_id=0, eos_token_id=0)
model = GPT2LMHeadModel(config)
ids = torch.randint(0, 1000, (2, 16))
model(ids, labels=ids).loss.backward()
"""
"""A 20-layer GPT-2 (random weights; `models.gpt2` with 20 layers), for `gradviz run`."""


def gpt2_page(tmp: Path, *, show_saved: bool) -> Path:
    """The 20-layer GPT-2 run under gradviz (modules and source lines), as an explorer page."""
    script = tmp / "gpt2_20.py"
    script.write_text(GPT2_20, encoding="utf-8")
    if show_saved:
        return page_of(tmp, "gpt2-20-saved", [str(script), "--show-saved"])
    return page_of(tmp, "gpt2-20", [str(script)])


def search_table_shots(page: Page, tmp: Path) -> None:
    opened(page, gpt2_page(tmp, show_saved=False), 1400, 900)
    page.fill("input[type=search]", "c_attn")
    before = page.get_attribute("body", "data-layouts")
    group = '#results .group:has(.module:text-is("model.transformer.h.7.attn.c_attn"))'
    page.click(f'{group} [data-result]:has-text("AddmmBackward0")')
    page.wait_for_selector(f"body:not([data-layouts='{before}'])[data-state=ready]")
    page.screenshot(path=str(IMAGES / "explorer-search.png"))
    opened(page, gpt2_page(tmp, show_saved=True), 1400, 900)
    page.click("#table-toggle")
    page.click("#table th[data-column=grad]")
    before = page.get_attribute("body", "data-layouts")
    page.click("#table tbody tr:first-child")
    page.wait_for_selector(f"body:not([data-layouts='{before}'])[data-state=ready]")
    page.screenshot(path=str(IMAGES / "explorer-table.png"))


def opened(page: Page, path: Path, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-state=ready]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", action="store_true", help="write the *-before.png pictures")
    parser.add_argument("--doctor", action="store_true", help="write doctor-report.png only")
    parser.add_argument("--run", action="store_true", help="write run-steps.png, run-flow.png only")
    parser.add_argument(
        "--search-table", action="store_true", help="write explorer-search/-table.png only"
    )
    args = parser.parse_args()
    before = args.before
    tmp = Path(tempfile.mkdtemp(prefix="gradviz-shots-"))
    if args.doctor or args.run or args.search_table:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            try:
                if args.doctor:
                    doctor_shot(browser.new_page(), doctor_page(tmp))
                elif args.run:
                    run_shots(browser.new_page(), tmp)
                else:
                    search_table_shots(browser.new_page(), tmp)
            finally:
                browser.close()
        return
    flow = page_of(tmp, "flow", ["samples/gradient_flow.py", "--show-order"])
    resnet = page_of(tmp, "resnet", ["benchmarks/make_graph.py", "--", "resnet18"])
    layers = page_of(tmp, "layers", ["benchmarks/make_graph.py", "--", "transformer-6"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            opened(page, flow, 1100, 640)
            page.fill("input[type=search]", "Tanh")
            page.press("input[type=search]", "Enter")
            name = "explorer-search-before.png" if before else "explorer.png"
            page.screenshot(path=str(IMAGES / name))
            opened(page, resnet, 1400, 900)
            page.screenshot(path=str(IMAGES / f"explorer-open{'-before' if before else ''}.png"))
            if not before:
                opened(page, layers, 1100, 560)
                page.click("#fit")
                page.screenshot(path=str(IMAGES / "explorer-folded.png"))
                doctor_shot(page, doctor_page(tmp))
                search_table_shots(page, tmp)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
