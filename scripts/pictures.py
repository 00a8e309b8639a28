"""Rebuild the pictures in docs/ and the README from their commands, or check them.

    .venv/bin/python scripts/pictures.py            # rewrite the sample pictures
    .venv/bin/python scripts/pictures.py --models   # the real models' too (needs the bench extra)
    .venv/bin/python scripts/pictures.py --check    # list the stale ones; exit 1 when any

Each picture is what its command writes, byte for byte: gradviz's output is deterministic for
the same program, Graphviz and fonts. tests/test_pictures_fresh.py runs ``--check`` on the
sample pictures. The explorer's screenshots (PNG) come from scripts/explorer_screenshots.py.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
IMAGES: Final = Path("docs/images")

SAMPLES: Final[dict[str, tuple[str, ...]]] = {
    "neurons.svg": ("samples/neurons.py",),
    "neurons.mmd": ("samples/neurons.py",),
    "gradient_flow.svg": ("samples/gradient_flow.py", "--show-order"),
    "lesson-leaf_vs_nonleaf.svg": ("samples/leaf_vs_nonleaf.py",),
    "lesson-no_grad_input.svg": ("samples/no_grad_input.py", "--show-inputs"),
    "lesson-exp_square.svg": ("samples/exp_square.py",),
    "lesson-accumulate-1.svg": ("samples/accumulate.py", "--call", "1"),
    "lesson-accumulate-3.svg": ("samples/accumulate.py", "--call", "3"),
    "lesson-retain_graph.svg": ("samples/retain_graph.py", "--call", "2"),
    "lesson-no_grad.svg": ("samples/no_grad.py", "--show-inputs"),
    "lesson-data_vs_detach.svg": ("samples/data_vs_detach.py", "--show-inputs"),
    "lesson-retain_grad.svg": ("samples/retain_grad.py",),
    "lesson-vector_backward.svg": ("samples/vector_backward.py",),
    "lesson-linear_regression.svg": ("samples/linear_regression.py", "--call", "last"),
    "compile.svg": ("samples/compile.py",),
}
"""Picture in docs/images -> the `gradviz run` arguments that draw it (``-o`` added)."""

MODELS: Final[dict[str, tuple[str, ...]]] = {
    f"{key}.svg": ("benchmarks/make_graph.py", "--", key)
    for key in ("mlp4", "resnet18", "gpt2", "dense-block", "vit-small", "gru")
}
"""The README's real models: slower, and gpt2 needs `transformers` (the bench extra)."""


def draw(name: str, args: tuple[str, ...], folder: Path) -> bytes:
    """What ``gradviz run ARGS -o folder/name`` writes, run from the repository's root."""
    gradviz = Path(sys.executable).parent / "gradviz"
    target = folder / name
    script, *rest = args
    done = subprocess.run(
        [str(gradviz), "run", script, "-o", str(target), *rest],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name}: gradviz run {' '.join(args)} failed:\n{done.stderr}")
    return target.read_bytes()


def stale(pictures: dict[str, tuple[str, ...]]) -> list[str]:
    """The pictures whose committed file differs from what their command draws now."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in pictures.items():
            committed = ROOT / IMAGES / name
            if not committed.exists() or committed.read_bytes() != draw(name, args, Path(tmp)):
                out.append(name)
    return out


def main(argv: list[str]) -> int:
    pictures = {**SAMPLES, **(MODELS if "--models" in argv else {})}
    if "--check" in argv:
        old = stale(pictures)
        for name in old:
            print(f"stale: {IMAGES / name} (rebuild: python scripts/pictures.py)")
        return 1 if old else 0
    for name, args in pictures.items():
        draw(name, args, ROOT / IMAGES)
        print(f"wrote {IMAGES / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
