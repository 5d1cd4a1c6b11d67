"""`lmaudit import inspect` on logs written by inspect-ai itself (bench/.venvs/inspect,
made by `bench/inspect_logs.py`): a six-question task on our own data, Inspect's
`mockllm/model` with two planted mistakes, scorers `match` and `includes`, one `.eval`
log (Zstandard-compressed zip) and one `.json` log. The imported accuracy equals the one
Inspect reported exactly, every per-sample score matches, and the two imports agree."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from lmaudit.cli import main
from lmaudit.core.store import load_run
from lmaudit.interop.diff import diff_runs
from lmaudit.interop.inspect_log import score_to_float

ROOT = Path(__file__).resolve().parents[1]
INSPECT_PYTHON = ROOT / "bench" / ".venvs" / "inspect" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not INSPECT_PYTHON.is_file(),
                       reason="inspect-ai venv absent (make it: python bench/inspect_logs.py): "
                              "import of real Inspect logs not checked"),
]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("inspect_logs", ROOT / "bench" /
                                                  "inspect_logs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["inspect_logs"] = module
    spec.loader.exec_module(module)
    return module


def test_real_inspect_logs_import_exactly(tmp_path: Path) -> None:
    bench = _bench()
    logs = bench.write_logs(INSPECT_PYTHON, tmp_path / "inspect")  # type: ignore[attr-defined]
    runs = {}
    for log_format, found in logs.items():
        assert str(found["path"]).endswith(f".{log_format}")
        out = tmp_path / f"imported-{log_format}"
        assert main(["import", "inspect", str(found["path"]), "--out", str(out)]) == 0
        run = load_run(out)
        runs[log_format] = run
        for scorer, reported in found["accuracy"].items():
            assert reported == pytest.approx(4 / 6)  # two planted mistakes of six
            assert run.results["metrics"][scorer]["value"] == reported  # exactly
        samples = run.samples.set_index("sample_id")
        for sample_id, scores in found["scores"].items():
            for scorer, value in scores.items():
                assert samples.loc[sample_id, scorer] == score_to_float(value)
        wrong = sorted(sid for sid, s in found["scores"].items() if s["match"] == "I")
        assert wrong == ["s1", "s4"]
    diff = diff_runs(runs["eval"], runs["json"], "match")
    assert diff.n_aligned == 6 and diff.samples == () and diff.same_score_differences == ()
    assert json.loads((tmp_path / "imported-eval" / "results.json").read_text())["task"] == (
        "sums_inspect")
