"""``gradviz tree``: run a script and print the graph of a backward call as a tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..renderers.options import DrawOptions
from .options import (
    Args,
    Call,
    Depth,
    Labels,
    MaxNodes,
    OpShapes,
    OutputFormat,
    Ranks,
    Script,
    ShowAttrs,
    ShowInputs,
    ShowSaved,
    Var,
    WithModules,
    WithSource,
    parse_ranks,
)
from .run import draw_script

if TYPE_CHECKING:
    from ..trace.walk import WalkOptions

__all__ = ["tree_command"]


def tree_command(
    script: Script,
    args: Args = None,
    call: Call = "first",
    var: Var = None,
    show_saved: ShowSaved = False,
    show_attrs: ShowAttrs = False,
    show_inputs: ShowInputs = False,
    source: WithSource = True,
    modules: WithModules = True,
    op_shapes: OpShapes = None,
    labels: Labels = None,
    max_nodes: MaxNodes = None,
    depth: Depth = None,
    ranks: Ranks = "0",
) -> None:
    """Run SCRIPT and print the graph of a backward call as a tree in the terminal."""
    walk: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    draw = DrawOptions(labels=labels.value if labels else "short", max_nodes=max_nodes, depth=depth)
    draw_script(
        script, args or [], None, OutputFormat.tree, call, var, walk, draw, parse_ranks(ranks)
    )
