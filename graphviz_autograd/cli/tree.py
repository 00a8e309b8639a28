"""``gradviz tree``: run a script and print the graph of a backward call as a tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..renderers.options import DrawOptions
from .options import (
    Args,
    Call,
    Depth,
    EdgeGrads,
    Labels,
    MaxNodes,
    OpShapes,
    OutputFormat,
    Ranks,
    Script,
    ShowAttrs,
    ShowInputs,
    ShowOrder,
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
    show_order: ShowOrder = False,
    edge_grads: EdgeGrads = None,
    labels: Labels = None,
    max_nodes: MaxNodes = None,
    depth: Depth = None,
    ranks: Ranks = "0",
) -> None:
    """Run SCRIPT and print the graph of a backward call as a tree in the terminal.

    Takes the options of ``gradviz run`` that apply to a tree; not those of a file (--output,
    --format) or of a layout (--rankdir, --layout-timeout)."""
    walk: WalkOptions = {
        "show_saved": show_saved,
        "show_attrs": show_attrs,
        "show_inputs": show_inputs,
        "source": source,
        "modules": modules,
        "op_shapes": op_shapes,
    }
    draw = DrawOptions(
        show_order=show_order,
        edge_grads=edge_grads,
        labels=labels.value if labels else "short",
        max_nodes=max_nodes,
        depth=depth,
    )
    draw_script(
        script, args or [], [], OutputFormat.tree, call, var, walk, draw, parse_ranks(ranks)
    )
