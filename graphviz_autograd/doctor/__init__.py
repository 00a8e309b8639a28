"""The doctor: findings from what a capture saw (forward watch, rules, report).

``with capture(diagnose=True) as cap: ...`` then ``cap.findings``; or ``gradviz doctor SCRIPT``.
`watch` is the torch side (a forward watch and a backward observer), `findings` the data,
`report` the printed and JSON forms.
"""

from __future__ import annotations

from .findings import CODES, Finding, NodeRef, Severity

__all__ = ["CODES", "Finding", "NodeRef", "Severity"]
