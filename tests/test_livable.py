"""The package stays livable: no module over 400 lines, no function over 80 (nested ones count
inside their parent). Vendored files (renderers/static) are not Python and are not counted."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "graphviz_autograd"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules_to_measure() -> None:
    assert len(modules()) > 20  # the check below would pass on an empty tree


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = lines
    assert long == {}


# Each stage imports only from the stages before it (the ground floor is model, records, errors,
# files, text). The doctor watches what trace records, so it may import trace; trace loads the
# doctor only where `capture(diagnose=True)` asks for it, and the Python API only in
# `Capture.explore()`, inside a function, and names their types.
ORDER = ["trace", "doctor", "transform", "renderers", "api", "compat", "cli"]
ALLOWED_LATE = {
    ("trace/recorder.py", "doctor"),  # capture(diagnose=True) loads the doctor
    ("trace/calls.py", "api"),  # Capture.explore() is api.explore(capture)
}


def stage_of(module: str) -> str | None:
    """``trace`` for ``graphviz_autograd.trace.walk`` (or ``..trace.walk`` resolved)."""
    first = module.split(".")[0]
    return first if first in ORDER else None


def imported_stages(path: Path) -> set[tuple[str, bool]]:
    """(stage, at module level) of each gradviz import in ``path``."""
    package = path.relative_to(PACKAGE).parent.parts
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    typing_only = {  # `if TYPE_CHECKING:` imports are types, not a flow of data
        id(inner)
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and id(node) not in typing_only:
            base = list(package[: len(package) - (node.level - 1)])
            stage = stage_of(".".join([*base, node.module or ""]).strip("."))
            if stage is not None:
                found.add((stage, id(node) in top))
    return found


def test_each_stage_imports_only_from_the_stages_before_it() -> None:
    wrong = []
    for path in modules():
        name = str(path.relative_to(PACKAGE))
        own = stage_of(name.removesuffix(".py").replace("/", "."))
        if own is None:
            continue
        for stage, top_level in imported_stages(path):
            if ORDER.index(stage) > ORDER.index(own) and not (
                (name, stage) in ALLOWED_LATE and not top_level
            ):
                wrong.append(f"{name} imports {stage}")
    assert wrong == []
