"""The committed pictures of the samples are what their commands draw now (scripts/pictures.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PICTURES = Path(__file__).resolve().parent.parent / "scripts" / "pictures.py"


@pytest.mark.dot
def test_no_committed_sample_picture_is_stale() -> None:
    spec = importlib.util.spec_from_file_location("pictures", PICTURES)
    assert spec is not None and spec.loader is not None
    pictures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pictures)
    stale = pictures.stale(pictures.SAMPLES)
    assert stale == [], f"stale: {stale}; rebuild with: .venv/bin/python scripts/pictures.py"
    # Every sample picture is used in the README or the lessons.
    root = PICTURES.parent.parent
    docs = (root / "README.md").read_text() + (root / "docs" / "lessons.md").read_text()
    assert all(f"images/{name}" in docs for name in pictures.SAMPLES)
