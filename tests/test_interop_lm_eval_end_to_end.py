"""End to end against lm-evaluation-harness 0.4.13 itself (its own environment,
bench/.venvs/lm-eval): `lm_eval --log_samples` on a tiny local model runs a
multiple-choice, a generation and a loglikelihood task file; `lmaudit run --task
lm-eval:...` on the same model renders identical prompts (log-likelihoods within 1e-4,
same generations), `lmaudit import lm-eval` reproduces lm-eval's reported metrics exactly,
and `lmaudit diff` between the imported and the native runs finds no difference."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")

from lm_eval_harness import lm_eval_marks, run_lm_eval
from lm_eval_task_files import write_tasks
from lmaudit.cli import main
from lmaudit.core.store import load_run
from lmaudit.interop.diff import diff_runs
from test_backends_hf_tiny import build_model

pytestmark = lm_eval_marks("end-to-end parity with lm-eval not checked")


def test_lm_eval_run_import_and_native_run_agree(tmp_path: Path) -> None:
    model = build_model(tmp_path / "model", "gpt2", n_positions=256)
    tasks = write_tasks(tmp_path / "tasks", shots=1)
    run_lm_eval(model, "quiz_mc,sums_gen,sums_ll", tmp_path / "tasks", tmp_path / "lm-eval",
                batch_size=4, hf_cache=tmp_path / "hf-cache", log_samples=True)
    assert main(["import", "lm-eval", str(tmp_path / "lm-eval"),
                 "--out", str(tmp_path / "imported")]) == 0
    for name, metric in (("quiz_mc", "acc"), ("sums_gen", "exact_match,strict-match"),
                         ("sums_ll", "acc")):
        assert main(["run", "--model", f"hf:{model}", "--task", f"lm-eval:{tasks[name]}",
                     "--dtype", "float32", "--device", "cpu",
                     "--out", str(tmp_path / "native" / name)]) == 0
        imported = load_run(tmp_path / "imported" / name)
        reported = imported.results["metrics"][metric]
        assert reported["value"] == reported["reported_value"]
        diff = diff_runs(imported, load_run(tmp_path / "native" / name), metric)
        assert diff.n_aligned == 6 and diff.n_only_a == diff.n_only_b == 0
        assert diff.samples == () and diff.same_score_differences == (), diff
    perplexity = load_run(tmp_path / "imported" / "sums_ll").results["metrics"]["perplexity"]
    assert perplexity["matches_reported"] and perplexity["reported_value"] is not None
