"""A run's gradient flow (`transform.flow.Flow`) as text: JSON (format ``gradviz-flow``, see
docs/flow.md), CSV, and a sparkline per row for the table ``gradviz flow`` prints (in
`cli.flow`); the SVG chart is `flow_svg`.

Norms are NaN where a row had no gradient at a step and Inf where a gradient had NaN or Inf
entries: JSON writes them as ``null`` and ``"inf"``, CSV as an empty field and ``inf``, the
table as ``-`` and a red ``Inf``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from ..transform.flow import Flow, FlowRow
from .json import json_number

__all__ = [
    "BLOCKS",
    "FLOW_FORMAT",
    "FLOW_VERSION",
    "SPARK_WIDTH",
    "Scale",
    "flow_dict",
    "flow_scale",
    "per_param",
    "sparkline",
    "to_csv",
    "to_json",
]

FLOW_FORMAT: Final = "gradviz-flow"
FLOW_VERSION: Final = 1
DIGITS: Final = 8
"""Significant digits of a norm in JSON and CSV: the figures are float32 (about 7)."""
BLOCKS: Final = "▁▂▃▄▅▆▇█"
SPARK_WIDTH: Final = 40
"""Columns of a sparkline at most: longer runs are bucketed, each column the largest norm of
its steps."""
NONFINITE_MARK: Final = "!"
"""A sparkline column where some step's gradient had NaN or Inf entries."""
MISSING_MARK: Final = "·"
"""A sparkline column where no step had a gradient."""


def _number(value: float) -> float | str | None:
    """A norm for JSON: a number to `DIGITS` digits, ``null`` for none, ``"inf"``."""
    if math.isnan(value):
        return None
    return json_number(float(f"{value:.{DIGITS}g}") if math.isfinite(value) else value)


def flow_dict(flow: Flow) -> dict[str, Any]:
    """``flow`` as the ``gradviz-flow`` document (version `FLOW_VERSION`)."""
    return {
        "format": FLOW_FORMAT,
        "version": FLOW_VERSION,
        "steps": list(flow.steps),
        "unkept": flow.unkept,
        "rows": [
            {
                "name": row.name,
                "kind": row.kind,
                "params": row.params,
                "norms": [_number(v) for v in row.norms],
            }
            for row in flow.rows
        ],
    }


def to_json(flow: Flow) -> str:
    """``flow`` as JSON: the steps on one line, then one line per row; the same bytes for the
    same flow."""
    doc = flow_dict(flow)

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

    head = ",\n".join(
        f"  {dump(key)}: {dump(doc[key])}" for key in ("format", "version", "steps", "unkept")
    )
    rows = [f"    {dump(row)}" for row in doc["rows"]]
    body = "[\n" + ",\n".join(rows) + "\n  ]" if rows else "[]"
    return f'{{\n{head},\n  "rows": {body}\n}}\n'


def to_csv(flow: Flow) -> str:
    """``flow`` as CSV, long form: a header, then one line per row per step (steps in order,
    rows in forward order within each): ``step,name,kind,params,norm``. A name a spreadsheet
    would take for a formula (`_inert`) is written with a ``'`` before it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("step", "name", "kind", "params", "norm"))
    for s, step in enumerate(flow.steps):
        for row in flow.rows:
            value = _number(row.norms[s])
            cells = (step, _inert(row.name), row.kind, row.params, "" if value is None else value)
            writer.writerow(cells)
    return out.getvalue()


def _inert(text: str) -> str:
    """``text`` as a spreadsheet cell that is data: one starting with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return gets a ``'`` before it (Excel, LibreOffice and Google Sheets
    read those as a formula)."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


class Scale(NamedTuple):
    """The positive finite norms of a flow span ``[low, high]``; None where it has none."""

    low: float
    high: float


def flow_scale(rows: Sequence[FlowRow]) -> Scale | None:
    """The span of the positive finite norms of ``rows`` (one log scale for all of them)."""
    shown = [v for row in rows for v in row.norms if v > 0 and math.isfinite(v)]
    return Scale(min(shown), max(shown)) if shown else None


def per_param(rows: Sequence[FlowRow]) -> bool:
    """Whether ``rows`` are parameters (``--params``), not modules."""
    return bool(rows) and all(row.kind == "param" for row in rows)


def _columns(count: int, width: int) -> list[range]:
    """``range(count)`` cut into at most ``width`` runs of (nearly) equal length."""
    width = max(1, min(width, count))
    bounds = [k * count // width for k in range(width + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(width)]


def sparkline(norms: Sequence[float], scale: Scale | None, width: int = SPARK_WIDTH) -> str:
    """One character per column of steps (at most ``width``): a block from ▁ to █ for the
    largest norm of the column on ``scale``, log scale (0 is ▁), `NONFINITE_MARK` where a
    gradient was not finite, `MISSING_MARK` where there was none."""
    span = 0.0 if scale is None else math.log(scale.high / scale.low)
    chars = []
    for column in _columns(len(norms), width):
        values = [norms[s] for s in column]
        if any(math.isinf(v) for v in values):
            chars.append(NONFINITE_MARK)
            continue
        known = [v for v in values if not math.isnan(v)]
        if not known:
            chars.append(MISSING_MARK)
            continue
        top = max(known)
        if scale is None or top <= 0:
            level = 0
        elif span == 0:
            level = len(BLOCKS) // 2
        else:
            level = round(math.log(max(top, scale.low) / scale.low) / span * (len(BLOCKS) - 1))
        chars.append(BLOCKS[level])
    return "".join(chars)
