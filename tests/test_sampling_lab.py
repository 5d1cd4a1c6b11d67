"""The lab model's repeated-sampling path, end to end and offline: 16 samples of each arith
problem through the HF backend's shared-prompt sampling, scored by a reasoning task, give
a coverage curve that rises with k and maj@k beside pass@1; and the same through
`lmaudit run --samples` on the plain arith task, with verifiers and the report's section
(needs `lab:demo-clean`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lmaudit.core.aggregate import aggregate_records
from lmaudit.core.runner import evaluate
from lmaudit.core.types import LmauditError
from lmaudit.stats.sampling import ProblemSamples, coverage_curve, maj_at_k
from lmaudit.tasks.builtins import _arith_samples
from lmaudit.tasks.reasoning import ReasoningTask

pytestmark = pytest.mark.slow
SAMPLES = 16


@pytest.fixture(scope="module")
def lab_dir() -> str:
    from lmaudit.lab.paths import resolve_lab_model

    try:
        return str(resolve_lab_model("demo-clean"))
    except LmauditError as error:
        pytest.skip(f"lab:demo-clean is not trained here ({error})")


def test_lab_model_pass_at_k_rises_and_majority_vote(lab_dir: str) -> None:
    torch = pytest.importorskip("torch")
    from lmaudit.backends.hf import HFBackend

    torch.set_num_threads(1)
    backend = HFBackend(lab_dir, dtype="float32", device="cpu", batch_size=32)
    task = ReasoningTask(
        "arith", lambda: _arith_samples("test", multiple_choice=False)[:100], scorer="numeric",
        samples=SAMPLES, temperature=0.6, seed=0, think_tags=None, max_tokens=16, stop=("\n",),
    )
    start = time.perf_counter()
    records = evaluate(task, backend, task.samples(), show_progress=False)
    elapsed = time.perf_counter() - start
    estimates = aggregate_records(task.metrics, records)
    problems = [ProblemSamples(r.sample_id, tuple(r.extra["answers_extracted"]),
                               tuple(r.extra["answers_correct"])) for r in records]
    coverage, maj = coverage_curve(problems), maj_at_k(problems)
    curve = [coverage[k].value for k in (1, 2, 4, 8, 16)]
    for k in (2, 4, 8, 16):  # the task's per-problem metrics agree with the pure functions
        assert estimates[f"pass@{k}"].value == pytest.approx(coverage[k].value)
        assert estimates[f"maj@{k}"].value == pytest.approx(maj[k].value)
    print(f"\n{len(records)} problems x {SAMPLES} samples in {elapsed:.1f} s")
    print(f"    pass@1: {coverage[1].value:.3f} [{coverage[1].ci_low:.3f}, "
          f"{coverage[1].ci_high:.3f}]")
    for name in ("pass@2", "pass@4", "pass@8", "pass@16", "maj@1", "maj@4", "maj@16", "vote_share"):
        e = estimates[name]
        print(f"{name:>10}: {e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}] ({e.method})")
    assert curve == sorted(curve) and curve[-1] > curve[0]  # coverage rises with k
    assert estimates["pass@16"].value == pytest.approx(estimates["pass_at_k"].value)
    for name in ("pass@16", "maj@16"):
        assert estimates[name].ci_low <= estimates[name].value <= estimates[name].ci_high
    assert estimates["maj@16"].value <= estimates["pass@16"].value  # a vote needs one right
    assert records == evaluate(task, backend, task.samples(), show_progress=False)  # rerun


def test_lab_model_through_run_samples_and_the_report(lab_dir: str, tmp_path: Path) -> None:
    """The generic path: `lmaudit run --samples` on the plain arith task (no reasoning task),
    verifiers included, and the report's repeated-sampling section."""
    from lmaudit import report
    from lmaudit.cli import main
    from lmaudit.report.sampling_render import sampling_text

    pytest.importorskip("torch").set_num_threads(1)  # a shared machine: no thread contention
    out = tmp_path / "run"
    start = time.perf_counter()
    assert main(["run", "--model", "lab:demo-clean", "--task", "arith", "--limit", "40",
                 "--samples", "8", "--temperature", "0.6", "--verifier", "self",
                 "--verifier", "oracle", "--out", str(out), "--no-cache", "--no-progress"]) == 0
    (curves,) = report.load_report([out]).sampling
    print(f"\n40 problems x 8 samples through lmaudit run in {time.perf_counter() - start:.1f} s")
    print(sampling_text([curves]))
    series = {s.name: [p.estimate.value for p in s.points] for s in curves.series}
    assert series["pass@k"] == sorted(series["pass@k"]) and series["pass@k"][-1] > series[
        "pass@k"][0]  # coverage rises with k
    assert series["best-of-k (oracle)"][-1] == pytest.approx(series["pass@k"][-1])
    assert all(s <= o + 1e-12 for s, o in zip(series["best-of-k (self)"],
                                               series["best-of-k (oracle)"], strict=True))
    assert {"maj@k"} <= set(series) and curves.gains  # maj@N beside pass@1, with intervals
