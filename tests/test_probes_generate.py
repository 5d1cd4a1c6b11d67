"""`lmaudit probe generate` on GSM-Symbolic's published templates (external data; skipped
when ../shared/external is absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmaudit.cli import main

EXTERNAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "external"
ROOT = EXTERNAL / "gsm_symbolic" / "templates"

pytestmark = pytest.mark.skipif(
    not ROOT.is_dir(), reason=f"GSM-Symbolic templates not found at {ROOT} (external data)"
)


def test_p2_templates_list_failures_and_still_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = tmp_path / "p2"
    chosen.mkdir()
    for name in ("0000", "0001", "0014", "0036"):  # a temporary copy, never in the repo
        shutil.copy(ROOT / "p2" / f"{name}.json", chosen / f"{name}.json")
    out = tmp_path / "p2.jsonl"
    assert main(["probe", "generate", "--templates", str(chosen), "--n", "2",
                 "--original", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    skipped = sorted(line.split()[1] for line in err.splitlines() if line.startswith("skipped "))
    # one p2 template has no usable originals (see test_templates_gsm_symbolic)
    assert skipped == [f"{chosen / '0036.json'}:"]
    assert "divides by zero on the originals" in err
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["template_id"], x["instance"]) for x in lines] == [
        (f"gsm-symbolic/p2/{t}", i) for t in ("0000", "0001", "0014") for i in (0, 1, 2)
    ]
    first = lines[0]
    assert first["answer"] == "5"  # GSM-Symbolic's p2/0000 original answer
    assert first["question"].startswith("Benny saw a 10-foot shark with 2 remoras")
    assert len({x["question"] for x in lines}) == 9
