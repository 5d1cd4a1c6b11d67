"""Group aggregates against lm-evaluation-harness 0.4.13 itself (bench/.venvs/lm-eval):
`lm_eval --tasks outer` on a tiny local model, then `lmaudit run --task
lm-eval:outer.yaml` on the same model reports the same group values: a plain mean of task
means (weight_by_size false) over a nested inline subgroup and a task with an override,
size-weighted means over auto-discovered filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from lm_eval_harness import lm_eval_marks, run_lm_eval
from lmaudit.cli import main
from test_backends_hf_tiny import build_model
from test_interop_lm_eval_groups import _write

pytestmark = lm_eval_marks("group aggregates not checked against lm-eval")


def _lm_eval(model: Path, tasks: Path, group: str, out: Path) -> dict[str, object]:
    run_lm_eval(model, group, tasks, out, batch_size=8, hf_cache=out / "hf-cache")
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    groups: dict[str, object] = results["groups"]
    return groups


def test_group_values_equal_lm_evals(tmp_path: Path) -> None:
    model = build_model(tmp_path / "model", "gpt2", n_positions=256)
    files = _write(tmp_path / "tasks", weighted=False)
    for group, file, keys in (
            ("outer", files["outer"], {"outer": ["acc", "exact_match,strict-match",
                                                 "exact_match,flexible-extract"],
                                       "outer::inner": ["acc"]}),):
        expected = _lm_eval(model, tmp_path / "tasks", group, tmp_path / f"lm-eval-{group}")
        out = tmp_path / f"native-{group}"
        assert main(["run", "--model", f"hf:{model}", "--task", f"lm-eval:{file}",
                     "--task-option", f"include_path={tmp_path / 'tasks'}",
                     "--dtype", "float32", "--device", "cpu", "--no-progress",
                     "--out", str(out)]) == 0
        ours = json.loads((out / "results.json").read_text())["metrics"]
        for name, metrics in keys.items():
            for metric in metrics:
                base, _, filter_name = metric.partition(",")
                lm_eval_key = f"{base},{filter_name or 'none'}"
                reported = expected[name][lm_eval_key]  # type: ignore[index]
                assert ours[f"{name}/{metric}"]["value"] == pytest.approx(reported, abs=1e-9)
