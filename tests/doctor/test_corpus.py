"""`gradviz doctor` on a corpus of real-world training scripts (tests/doctor/corpus/).

correct/: correct training loops (gradient accumulation, GradScaler, checkpointing, GANs, LoRA,
transformers models...): the doctor must exit 0 with no warning or error. buggy/: one bug each,
the finding the doctor should give on the script's first line (``# expect: CODE line=N
fix~=PHRASE``): its code, the line its source points at and a phrase of its fix.
scripts/doctor_corpus.py reads the same expectations and measures the whole corpus.
In process, the whole file takes about 35 s (under the 60 s that would make it `slow`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Gradviz

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import doctor_corpus  # type: ignore[import-not-found]
finally:
    sys.path.pop(0)

CORRECT = [p for p in doctor_corpus.scripts() if p.parent.name == "correct"]
BUGGY = [p for p in doctor_corpus.scripts() if p.parent.name == "buggy"]


def run_doctor(gradviz: Gradviz, script: Path) -> tuple[int, list[dict]]:
    if "transformers" in script.read_text(encoding="utf-8"):
        pytest.importorskip("transformers")
    done = gradviz("doctor", script.relative_to(ROOT), "--format", "json", "-o", "-", cwd=ROOT)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)["findings"]


def shown(findings: list[dict]) -> str:
    return "\n".join(
        f"{f['severity']} {f['code']} @{(f.get('source') or {}).get('line')}: {f['message']}"
        for f in findings
    )


@pytest.mark.parametrize("script", CORRECT, ids=lambda p: p.stem)
def test_correct_script_gives_no_warning(gradviz: Gradviz, script: Path) -> None:
    code, findings = run_doctor(gradviz, script)
    assert not doctor_corpus.alarms(findings), shown(findings)
    assert code == 0


@pytest.mark.parametrize("script", BUGGY, ids=lambda p: p.stem)
def test_buggy_script_gives_its_finding(gradviz: Gradviz, script: Path) -> None:
    want = doctor_corpus.expected(script)
    code, findings = run_doctor(gradviz, script)
    assert doctor_corpus.verdict(script, want, findings) == "ok", f"{want}\n{shown(findings)}"
    assert code == 4


def test_every_buggy_script_states_its_finding() -> None:
    for script in BUGGY:
        want = doctor_corpus.expected(script)
        assert want.code and want.fix, script
        lines = script.read_text(encoding="utf-8").splitlines()
        assert all(0 < n <= len(lines) and lines[n - 1].strip() for n in want.lines), script
