"""What the doctor found: findings as plain data (no torch, no rich), and their JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from ..model import Source

__all__ = [
    "CODES",
    "EXPLAINS_FAILURE",
    "FORMAT",
    "VERSION",
    "Finding",
    "NodeRef",
    "Severity",
    "counts",
    "to_json",
]

Severity = Literal["error", "warning", "info"]

CODES: Final[dict[str, Severity]] = {
    "unused-param": "warning",
    "ddp-unused-param": "error",
    "detached": "warning",
    "frozen-param": "info",
    "grad-accumulation": "warning",
    "zeroed-before-step": "warning",
    "not-in-optimizer": "warning",
    "scaler-skipped": "info",
    "idle-param": "info",
    "scaler-stalled": "warning",
    "backward-twice": "error",
    "inplace-modified": "error",
    "nonfinite-forward": "error",
    "nonfinite-grad": "error",
    "no-graph": "error",
    "non-scalar-backward": "error",
    "non-leaf-grad": "warning",
    "vanishing": "warning",
    "exploding": "warning",
}
"""Every finding code and its severity."""

EXPLAINS_FAILURE: Final = frozenset(
    {"backward-twice", "inplace-modified", "no-graph", "non-scalar-backward", "ddp-unused-param"}
)
"""Codes that explain an exception the script raised: in ``backward``, or DDP's at the forward
after a backward that left parameters without a gradient."""

FORMAT: Final = "gradviz-doctor"
VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class NodeRef:
    """An autograd node a finding is about."""

    id: str | None
    """Its id in the recorded graph of the call (``"n3"``), when that call was recorded."""
    op: str
    """Backward class name (``MulBackward0``), or ``"leaf"``."""
    name: str | None = None
    """A variable or parameter name for its tensor, when one is known."""
    source: Source | None = None
    """The forward line that made it."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosis: what is wrong (or worth knowing), where, and how to fix it."""

    code: str
    """One of `CODES`."""
    message: str
    """One sentence."""
    hint: str
    """The fix, or when the finding is harmless."""
    params: tuple[str, ...] = ()
    """Names of the parameters involved (``model.spare.weight``)."""
    nodes: tuple[NodeRef, ...] = ()
    source: Source | None = None
    """The line of the script the finding is about."""

    @property
    def severity(self) -> Severity:
        return CODES[self.code]


def counts(findings: list[Finding]) -> dict[Severity, int]:
    """How many findings of each severity."""
    out: dict[Severity, int] = {"error": 0, "warning": 0, "info": 0}
    for finding in findings:
        out[finding.severity] += 1
    return out


def _source(source: Source | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"file": source.file, "line": source.line, "code": source.code}


def to_json(findings: list[Finding], *, script: str | None, calls: int) -> dict[str, Any]:
    """The JSON report (see docs/doctor.md)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "script": script,
        "calls": calls,
        "findings": [
            {
                "code": f.code,
                "severity": f.severity,
                "message": f.message,
                "hint": f.hint,
                "params": list(f.params),
                "nodes": [
                    {"id": n.id, "op": n.op, "name": n.name, "source": _source(n.source)}
                    for n in f.nodes
                ],
                "source": _source(f.source),
            }
            for f in findings
        ],
    }
