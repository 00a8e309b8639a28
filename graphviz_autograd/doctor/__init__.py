"""The doctor: findings from what a capture saw.

``with capture(diagnose=True) as cap: ...`` then ``cap.findings``; or ``gradviz doctor SCRIPT``.
The data flows watch -> observations -> rules -> findings -> report:

- `watch` (forward) and `backward` are the torch side: what each torch call and each
  ``backward`` call shows, as the records of `observations`; `session.Doctor` runs both for
  one block and names what they saw (`probes`: small reads both use);
- `rules` and `failures` are pure and torch-free: observations in, `Finding`\\ s out, with all
  the text;
- `findings` is the data and its JSON form, `report` the printed form.
"""

from __future__ import annotations

from .findings import CODES, Finding, NodeRef, Severity

__all__ = ["CODES", "Finding", "NodeRef", "Severity"]
