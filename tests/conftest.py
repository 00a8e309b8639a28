"""Shared fixtures: the `dot` and `browser` markers, golden files, a plain rich Console."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
HAS_DOT = shutil.which("dot") is not None
# GRADVIZ_CHROMIUM=/no/such/file shows the browser tests skip cleanly.
CHROMIUM = os.environ.get("GRADVIZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAS_BROWSER = Path(CHROMIUM).exists() and importlib.util.find_spec("playwright") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/* from current output"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_dot = pytest.mark.skip(reason="Graphviz `dot` is not installed")
    skip_browser = pytest.mark.skip(reason="Chromium or Playwright for Python is not installed")
    for item in items:
        if "dot" in item.keywords and not HAS_DOT:
            item.add_marker(skip_dot)
        if "browser" in item.keywords and not HAS_BROWSER:
            item.add_marker(skip_browser)


@pytest.fixture
def golden(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """`golden(name, text)`: compare ``text`` with tests/golden/<name>, or rewrite it."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"{path} missing: run pytest --update-golden and review the diff"
        assert text == path.read_text(encoding="utf-8")

    return check


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Colour settings of the person running the tests must not change rich's output."""
    for var in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM"):
        monkeypatch.delenv(var, raising=False)
    yield
