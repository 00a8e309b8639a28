"""Measure `gradviz doctor` on a corpus of real-world training scripts: false alarms and misses.

    .venv/bin/python scripts/doctor_corpus.py              # every script, a markdown table
    .venv/bin/python scripts/doctor_corpus.py --only hf_   # the scripts whose names contain hf_

The corpus is tests/doctor/corpus/: ``correct/*.py`` are correct training scripts, where any
finding of severity warning or error is a false alarm; ``buggy/*.py`` have one bug each and a
first line stating the finding the doctor should give::

    # expect: CODE [line=N[|M...]] [fix~=PHRASE]

``line`` is the script line the finding's ``source`` should point at (any one of those given),
``fix~=`` a phrase the finding's hint should contain (case-insensitive; the rest of the line).
Each script runs twice, one after the other: with ``python`` alone, then under
``python -m graphviz_autograd doctor SCRIPT -o JSON --format json``, each with a timeout, and
the table gives both times. tests/doctor/test_corpus.py asserts the same verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final, NamedTuple

ROOT: Final = Path(__file__).resolve().parent.parent
CORPUS: Final = ROOT / "tests" / "doctor" / "corpus"
TIMEOUT: Final = 120.0
EXPECT: Final = re.compile(r"^# expect: (?P<code>\S+)(?P<rest>.*)$")
EXIT_CODES: Final = (0, 4)  # no finding / findings: anything else is a failed run
ALARMS: Final = ("error", "warning")


class Expected(NamedTuple):
    """What the doctor should say about one corpus script."""

    code: str | None
    """The finding's code; None for a correct script (no warning or error at all)."""
    lines: tuple[int, ...] = ()
    """Lines the finding's source may point at (any one); empty: not checked."""
    fix: str | None = None
    """A phrase the finding's hint contains (case-insensitive); None: not checked."""


def scripts(only: str = "") -> list[Path]:
    """The corpus scripts, correct ones first, each folder in name order."""
    return [
        path
        for kind in ("correct", "buggy")
        for path in sorted((CORPUS / kind).glob("*.py"))
        if only in path.name
    ]


def expected(script: Path) -> Expected:
    """The expectation of ``script``: none for correct/, its ``# expect:`` line for buggy/."""
    if script.parent.name == "correct":
        return Expected(None)
    first = script.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.match(first)
    if match is None:
        raise ValueError(f"{script}: the first line is not '# expect: CODE ...'")
    rest = match["rest"]
    fix = None
    if "fix~=" in rest:
        rest, fix = rest.split("fix~=", 1)
        fix = fix.strip()
    lines = re.search(r"line=([\d|]+)", rest)
    numbers = tuple(int(n) for n in lines[1].split("|")) if lines else ()
    return Expected(match["code"], numbers, fix)


def alarms(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f["severity"] in ALARMS]


def verdict(script: Path, want: Expected, findings: list[dict[str, Any]]) -> str:
    """``ok``, ``false alarm``, ``miss``, or ``wrong line`` and/or ``wrong fix``."""
    if want.code is None:
        return "false alarm" if alarms(findings) else "ok"
    found = [f for f in findings if f["code"] == want.code]
    if not found:
        return "miss"
    wrong = []
    if want.lines and not any(_points_at(f, script, want.lines) for f in found):
        wrong.append("wrong line")
    if want.fix and not any(want.fix.lower() in (f.get("hint") or "").lower() for f in found):
        wrong.append("wrong fix")
    return ", ".join(wrong) or "ok"


def _points_at(finding: dict[str, Any], script: Path, lines: tuple[int, ...]) -> bool:
    source = finding.get("source") or {}
    return Path(source.get("file") or "").name == script.name and source.get("line") in lines


class Outcome(NamedTuple):
    """One script's two runs."""

    script: Path
    want: Expected
    plain: float
    plain_rc: int | None
    """``python SCRIPT``'s exit status; None when it timed out."""
    doctor: float
    doctor_rc: int | None
    findings: list[dict[str, Any]]
    verdict: str


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, int | None]:
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None
    return time.perf_counter() - start, done.returncode


def measure(script: Path, python: str) -> Outcome:
    """Run ``script`` plainly, then under the doctor, and judge the doctor's report."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    relative = str(script.relative_to(ROOT))
    want = expected(script)
    plain, plain_rc = _timed([python, relative], env)
    with tempfile.TemporaryDirectory(prefix="doctor-corpus-") as folder:
        report = Path(folder) / "report.json"
        argv = [python, "-m", "graphviz_autograd", "doctor", relative, "-o", str(report)]
        doctor, doctor_rc = _timed([*argv, "--format", "json"], env)
        findings = json.loads(report.read_text())["findings"] if report.exists() else []
    if doctor_rc not in EXIT_CODES:
        judged = "timeout" if doctor_rc is None else f"doctor exit {doctor_rc}"
    else:
        judged = verdict(script, want, findings)
        if want.code is None and judged == "ok" and doctor_rc != 0:
            judged = "false alarm"
    return Outcome(script, want, plain, plain_rc, doctor, doctor_rc, findings, judged)


def row(outcome: Outcome) -> str:
    want = outcome.want
    expect = "correct" if want.code is None else f"buggy: {want.code}"
    if want.lines:
        expect += " @" + "|".join(map(str, want.lines))
    each = Counter(
        f"{f['code']} ({f['severity']}" + (f" @{f['source']['line']})" if f.get("source") else ")")
        for f in outcome.findings
    )
    found = ", ".join(text + (f" x{n}" if n > 1 else "") for text, n in each.items())
    plain = f"{outcome.plain:.1f} s" + (
        "" if outcome.plain_rc == 0 else f" (exit {outcome.plain_rc})"
    )
    ratio = outcome.doctor / outcome.plain if outcome.plain else 0.0
    name = f"{outcome.script.parent.name}/{outcome.script.name}"
    cells = (name, expect, found or "-", outcome.verdict, plain, f"{outcome.doctor:.1f} s")
    return "| " + " | ".join(cells) + f" | {ratio:.1f}x |"


def table(outcomes: list[Outcome]) -> str:
    head = [
        "| script | expected | findings (severity @line) | verdict | plain | doctor | ratio |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    tally = {
        "false alarms": sum(o.verdict == "false alarm" for o in outcomes),
        "misses": sum(o.verdict == "miss" for o in outcomes),
        "wrong line": sum("wrong line" in o.verdict for o in outcomes),
        "wrong fix": sum("wrong fix" in o.verdict for o in outcomes),
        "failed runs": sum(o.verdict.startswith(("timeout", "doctor exit")) for o in outcomes),
        "ok": sum(o.verdict == "ok" for o in outcomes),
    }
    totals = ", ".join(f"{name}: {count}" for name, count in tally.items())
    plain = sum(o.plain for o in outcomes)
    doctor = sum(o.doctor for o in outcomes)
    timing = (
        f"time: plain {plain:.1f} s, doctor {doctor:.1f} s ({doctor / plain:.1f}x)" if plain else ""
    )
    return "\n".join([*head, *map(row, outcomes), "", f"{len(outcomes)} scripts; {totals}", timing])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only the scripts whose names contain this")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run them with")
    args = parser.parse_args()
    outcomes = []
    for script in scripts(args.only):
        outcome = measure(script, args.python)
        print(row(outcome), file=sys.stderr, flush=True)
        outcomes.append(outcome)
    print(table(outcomes))


if __name__ == "__main__":
    main()
