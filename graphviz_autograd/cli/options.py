"""Every argument and option of the commands, each declared once as an ``Annotated`` alias that
the commands taking it reuse, and `parse_call`, which reads ``--call``.

Typer reads these annotations at runtime, so ``Optional[...]`` stays (``X | None`` does not
evaluate on Python 3.10)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Final, Optional

import typer

from ..model import OP_SHAPES_UP_TO
from ..ranks import RankSelection
from ..renderers.dot import EDGE_GRADS_UP_TO
from ..renderers.picture import DEFAULT_LAYOUT_TIMEOUT
from ..trace.selection import CallSelection
from ..transform.fold import DEFAULT_MAX_NODES

__all__ = [
    "Args",
    "Call",
    "Calls",
    "Depth",
    "DiffOutputs",
    "DoctorFormat",
    "EdgeGrads",
    "FlowOutputs",
    "Format",
    "LabelDetail",
    "Labels",
    "LayoutTimeout",
    "MaxNodes",
    "OpShapes",
    "Output",
    "OutputFormat",
    "PerParam",
    "RUN_SETTINGS",
    "RankDir",
    "Ranks",
    "LayoutDirection",
    "RecordedCall",
    "ReportFormat",
    "ReportOutput",
    "Script",
    "ShowAttrs",
    "ShowInputs",
    "ShowOrder",
    "ShowSaved",
    "Sources",
    "Var",
    "WithModules",
    "WithSource",
    "parse_call",
    "parse_ranks",
]

RUN_SETTINGS: Final = {"allow_extra_args": True}  # script options go after --


class OutputFormat(str, Enum):
    svg = "svg"
    png = "png"
    pdf = "pdf"
    dot = "dot"
    json = "json"
    html = "html"
    mermaid = "mermaid"
    tree = "tree"


class RankDir(str, Enum):
    TB = "TB"
    LR = "LR"
    BT = "BT"
    RL = "RL"


class LabelDetail(str, Enum):
    short = "short"
    attrs = "attrs"
    full = "full"


class DoctorFormat(str, Enum):
    text = "text"
    json = "json"


def parse_call(value: str) -> CallSelection:
    """The calls ``--call`` (or ``--calls``) ``value`` selects; a usage error if none."""
    selection = CallSelection.parse(value)
    if selection is None:
        raise typer.BadParameter(
            f"{value!r}: use first, last, all, a call number from 1, or a call made inside one "
            "(1.1)",
            param_hint="'--call'",
        )
    return selection


def parse_ranks(value: str) -> RankSelection:
    """The ranks ``--ranks`` ``value`` chooses; a usage error if none."""
    selection = RankSelection.parse(value)
    if selection is None:
        raise typer.BadParameter(
            f"{value!r}: use all, or rank numbers separated by commas (0,1)",
            param_hint="'--ranks'",
        )
    return selection


# -- every command that runs a script ----------------------------------------------------------

Ranks = Annotated[
    str,
    typer.Option(
        "--ranks",
        metavar="0|all|N,M",
        help="Under torchrun (every rank runs gradviz and the whole script): the ranks that "
        "write and print. Rank 0 writes g.svg, rank 1 g.rank1.svg, and so on; the others run "
        "the script just the same and exit with its status.",
    ),
]

# -- run and tree ------------------------------------------------------------------------------

Script = Annotated[
    Path,
    typer.Argument(help="The Python script to run, as `python SCRIPT` would.", show_default=False),
]
Args = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer reads this annotation at runtime on 3.10)
    typer.Argument(help="Arguments for the script (put them after -- to pass them untouched)."),
]
Output = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Output file; its extension picks the format. Repeat it for several from one run "
        "(`-o g.svg -o g.json`). `-` writes text to stdout: DOT, unless --format says "
        "otherwise. Default: SCRIPT's name with .svg (or the --format), in the current folder.",
    ),
]
Format = Annotated[
    Optional[OutputFormat],  # noqa: UP045
    typer.Option("--format", "-f", help="Output format (default: from -o, else svg)."),
]
Call = Annotated[
    str,
    typer.Option(
        "--call",
        "-c",
        metavar="first|last|all|N|N.K",
        help=(
            "Which backward call to draw; `all` writes one file per call (g-1.svg, g-2.svg, …), "
            "or with `-o -` each document in turn. N counts the script's own calls; N.K is the "
            "K-th call made inside call N (a reentrant checkpoint's recompute)."
        ),
    ),
]
Var = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--var", metavar="NAME", help="Draw the script's global NAME after it ends, instead."
    ),
]
ShowSaved = Annotated[
    bool, typer.Option("--show-saved", help="Draw the tensors each op saved for backward.")
]
ShowAttrs = Annotated[
    bool, typer.Option("--show-attrs", help="List each op's non-tensor saved attributes.")
]
ShowInputs = Annotated[
    bool,
    typer.Option("--show-inputs", help="Draw op inputs that need no grad (constants, numbers)."),
]
WithSource = Annotated[
    bool,
    typer.Option(
        "--source/--no-source",
        help="Record the line of your code that made each op (on until the chosen call is "
        "recorded; about 10 µs per torch call).",
    ),
]
WithModules = Annotated[
    bool,
    typer.Option(
        "--modules/--no-modules",
        help="Group ops by the nn.Module that made them (on until the chosen call is recorded).",
    ),
]
OpShapes = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--op-shapes/--no-op-shapes",
        help=f"Record each op's output shape and dtype. Default: for graphs of at most "
        f"{OP_SHAPES_UP_TO:,} nodes (reading them costs more than walking the graph).",
        show_default=False,
    ),
]
ShowOrder = Annotated[
    bool, typer.Option("--show-order", help="Number nodes in the order backward ran them.")
]
EdgeGrads = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--edge-grads/--no-edge-grads",
        help=f"Label each edge with the gradient that flowed along it (-1.5, or its norm) and, "
        f"for a scalar, the local derivative (×0.5). Default: for graphs of at most "
        f"{EDGE_GRADS_UP_TO} nodes.",
        show_default=False,
    ),
]
Labels = Annotated[
    Optional[LabelDetail],  # noqa: UP045
    typer.Option(
        "--labels",
        help="What node labels show beyond name, shape and gradient: `attrs` each op's "
        "attributes (the default with --show-attrs), `full` also gradient values and the "
        "source line, so that PNG, PDF and the tree show what SVG tooltips do.",
        show_default=False,
    ),
]
MaxNodes = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--max-nodes",
        metavar="N",
        min=0,
        help=f"Fold bigger graphs (runs of one op, repeated branches and blocks) to at most N "
        "nodes, and 2N counting the ranks long edges cross, before drawing; 0: never. Default "
        f"{DEFAULT_MAX_NODES:,} for pictures and the tree; DOT and JSON are folded only when "
        "this is given.",
    ),
]
Depth = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--depth",
        metavar="N",
        min=1,
        help="Draw each module nested deeper than N levels as one node (model.encoder is 2). "
        "Pictures that folding cannot make small enough get a depth chosen for them.",
    ),
]
LayoutDirection = Annotated[
    RankDir,
    typer.Option(
        "--rankdir", case_sensitive=False, help="Layout direction: TB puts leaves on top."
    ),
]
LayoutTimeout = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--layout-timeout",
        metavar="SECONDS",
        min=0,
        help=f"Time allowed for Graphviz layout (default {DEFAULT_LAYOUT_TIMEOUT:g}; 0: no "
        "limit). A layout that takes too long is folded further and retried within it; "
        "when none finishes, the DOT is written next to the file.",
    ),
]

# -- doctor ------------------------------------------------------------------------------------

ReportOutput = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the report as JSON to PATH (`-` with --format json: stdout); .svg, .png, "
        ".pdf or .dot: the recorded call's graph with the nodes of each finding outlined; "
        ".html: the explorer with the findings beside the graph (the report is printed too, "
        "unless an -o takes it as JSON). Repeat it for several: one report, any pictures.",
    ),
]
ReportFormat = Annotated[
    Optional[DoctorFormat],  # noqa: UP045
    typer.Option("--format", "-f", help="text (default; json with -o FILE) or json."),
]
RecordedCall = Annotated[
    str,
    typer.Option(
        "--call",
        "-c",
        metavar="first|last|all|N",
        help="Which backward call's graph to record in full (per-node gradients name the "
        "op behind a non-finite gradient). Every call is watched either way.",
    ),
]

# -- diff --------------------------------------------------------------------------------------

Sources = Annotated[
    list[str],
    typer.Argument(
        help="Two graphs: JSON files gradviz wrote or scripts (one call each), or one script "
        "with --calls A B. Script arguments go after --.",
        metavar="A [B]",
        show_default=False,
    ),
]
Calls = Annotated[
    Optional[tuple[str, str]],  # noqa: UP045
    typer.Option(
        "--calls",
        metavar="A B",
        help="The backward calls to compare (first, last, N or N.K): of the one script, or "
        "one of each of two scripts. Default: first first.",
    ),
]
DiffOutputs = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the comparison: .json (gradviz-diff), .html (both graphs side by side in "
        "the explorer, differences marked, navigation synced), or graph B with the changes "
        "coloured (.svg .png .pdf .dot). Repeat for several; `-` writes JSON to stdout.",
    ),
]

# -- flow --------------------------------------------------------------------------------------

FlowOutputs = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Also write the flow: .json (gradviz-flow, see docs/flow.md), .csv (one line per "
        "row per call) or .svg (a log-scale chart). Repeat for several; `-` writes JSON to "
        "stdout instead of the table.",
    ),
]
PerParam = Annotated[
    bool,
    typer.Option("--params", help="One row per parameter, not per module."),
]
