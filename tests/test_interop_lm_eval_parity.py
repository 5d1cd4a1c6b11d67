"""The prompts of `--task lm-eval:FILE.yaml` equal the ones lm-evaluation-harness 0.4.13
builds for the same task files, documents and few-shot seed (lm-eval's own code, run in
its own environment: bench/.venvs/lm-eval)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lm_eval_task_files import write_tasks
from lmaudit.core.types import LoglikelihoodRequest
from lmaudit.tasks.registry import load_task

LM_EVAL_PYTHON = (Path(__file__).resolve().parents[1] / "bench" / ".venvs" / "lm-eval"
                  / "bin" / "python")
RENDER = """
import json, sys
from lm_eval.tasks import TaskManager, get_task_dict
folder, shots = sys.argv[1], int(sys.argv[2])
manager = TaskManager(include_path=folder, include_defaults=False)
out = {}
for name, task in get_task_dict(["quiz_mc", "sums_gen", "sums_ll"], manager).items():
    task.set_config(key="num_fewshot", value=shots)
    task.set_fewshot_seed(seed=1234)
    task.build_all_requests(limit=None, rank=0, world_size=1)
    out[name] = sorted([i.doc_id, i.idx, i.arguments[0], i.arguments[1]]
                       for i in task.instances if isinstance(i.arguments[1], str))
    out[name + "/gen"] = sorted([i.doc_id, i.arguments[0], i.arguments[1].get("until"),
                                 i.arguments[1].get("max_gen_toks")]
                                for i in task.instances if isinstance(i.arguments[1], dict))
print(json.dumps(out))
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LM_EVAL_PYTHON.is_file(),
                       reason="lm-eval 0.4.13 venv absent (bench/.venvs/lm-eval): "
                              "parity with lm-eval's rendering not checked"),
]


def _lm_eval_requests(folder: Path, shots: int) -> dict[str, list[list[object]]]:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([str(LM_EVAL_PYTHON), "-c", RENDER, str(folder), str(shots)],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    parsed: dict[str, list[list[object]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize("shots", [0, 2])
def test_prompts_equal_lm_evals(tmp_path: Path, shots: int) -> None:
    files = write_tasks(tmp_path, shots=shots)
    expected = _lm_eval_requests(tmp_path, shots)
    mc = load_task(f"lm-eval:{files['quiz_mc']}")
    ours = sorted([int(s.id), i, r.context, r.continuation]
                  for s in mc.samples() for i, r in enumerate(mc.requests(s))
                  if isinstance(r, LoglikelihoodRequest))
    assert ours == expected["quiz_mc"]
    gen = load_task(f"lm-eval:{files['sums_gen']}")
    ours_gen = sorted([int(s.id), r.prompt, list(r.params.stop), r.params.max_tokens]  # type: ignore[union-attr]
                      for s in gen.samples() for r in gen.requests(s))
    assert ours_gen == expected["sums_gen/gen"]
    assert len(ours_gen) == 6 and len(ours) == 18
    ll = load_task(f"lm-eval:{files['sums_ll']}")
    ours_ll = sorted([int(s.id), 0, r.context, r.continuation]  # type: ignore[union-attr]
                     for s in ll.samples() for r in ll.requests(s))
    assert ours_ll == expected["sums_ll"] and len(ours_ll) == 6
