"""The issue's acceptance check on the demo's two lab models (slow: trains them if the lab
cache does not hold them yet, about 1-2 min each on 2 cores; reused by `make demo`).

The contaminated model saw every `arith` test item DEMO_COPIES × epochs times; the clean one
never did. Probed on the whole test split with fresh template instances, the contaminated
model must drop significantly (clustered CI below 0, McNemar p < 0.05) and the clean one
must not (its CI covers 0 or lies above it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

N_SETS = 2


def _probe(name: str, split: str | None, run_dir: Path) -> object:
    import torch

    from lmaudit.backends.registry import load_backend
    from lmaudit.demo import DEMO_COPIES, ensure_lab_model
    from lmaudit.probes.runner import run_probe
    from lmaudit.tasks.registry import load_task

    torch.set_num_threads(1)
    model = ensure_lab_model(name, split, exposures=DEMO_COPIES)
    backend = load_backend(f"lab:{model.name}", {"device": "cpu"})
    return run_probe(load_task("arith", {}), backend, run_dir, variants=("symbolic",),
                     n_sets=N_SETS, model_spec=f"lab:{model.name}", show_progress=False)


def test_contaminated_model_drops_and_clean_model_does_not(tmp_path: Path) -> None:
    from lmaudit.probes.runner import ProbeOutcome

    dirty = _probe("demo-contaminated", "test", tmp_path / "dirty")
    clean = _probe("demo-clean", None, tmp_path / "clean")
    assert isinstance(dirty, ProbeOutcome) and isinstance(clean, ProbeOutcome)
    d = dirty.analysis.families["symbolic"]
    c = clean.analysis.families["symbolic"]
    report = f"\ncontaminated: {d.to_dict()['verdict']}\nclean: {c.to_dict()['verdict']}"
    assert d.n_items == c.n_items == 200, report
    assert d.original.value - d.sets.mean > 0.2, report  # much higher on the originals
    assert d.drop.ci_high < 0 and d.mcnemar.p_value < 0.05, report
    assert not c.drop.ci_high < 0, report
    assert c.mcnemar.p_value >= 0.05 or c.drop.value >= 0, report
    assert (tmp_path / "dirty" / "instance_sets.png").exists()
