"""The committed pictures of the samples are what their commands draw now (scripts/pictures.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from conftest import Gradviz


def _pictures() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "scripts" / "pictures.py"
    spec = importlib.util.spec_from_file_location("pictures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PICTURES = _pictures()


@pytest.mark.dot
@pytest.mark.parametrize("name", list(PICTURES.SAMPLES))
def test_the_committed_sample_picture_is_what_its_command_draws(
    gradviz: Gradviz, tmp_path: Path, name: str
) -> None:
    script, *rest = PICTURES.SAMPLES[name]
    done = gradviz("run", script, "-o", tmp_path / name, *rest, cwd=PICTURES.ROOT)
    assert done.returncode == 0, done.stderr
    committed = PICTURES.ROOT / PICTURES.IMAGES / name
    assert committed.read_bytes() == (tmp_path / name).read_bytes(), (
        f"stale: {committed}; rebuild with: .venv/bin/python scripts/pictures.py"
    )


def test_every_sample_picture_is_used_in_the_readme_or_the_lessons() -> None:
    root = PICTURES.ROOT
    docs = (root / "README.md").read_text() + (root / "docs" / "lessons.md").read_text()
    assert all(f"images/{name}" in docs for name in PICTURES.SAMPLES)
