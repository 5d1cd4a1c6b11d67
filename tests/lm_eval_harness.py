"""lm-evaluation-harness 0.4.13 itself, run from its own environment (bench/.venvs/lm-eval),
for the end-to-end parity tests; those skip with one line when the environment is absent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

LM_EVAL = Path(__file__).resolve().parents[1] / "bench" / ".venvs" / "lm-eval" / "bin" / "lm_eval"


def lm_eval_marks(unchecked: str) -> list[pytest.MarkDecorator]:
    """Marks of a test module that runs lm-eval: slow, and skipped without the environment
    with a reason ending in `unchecked` (what goes unchecked)."""
    return [
        pytest.mark.slow,
        pytest.mark.skipif(not LM_EVAL.is_file(),
                           reason="lm-eval 0.4.13 venv absent (bench/.venvs/lm-eval): "
                                  f"{unchecked}"),
    ]


def run_lm_eval(model: Path, tasks: str, include_path: Path, out: Path, *, batch_size: int,
                hf_cache: Path, log_samples: bool = False) -> None:
    """`lm_eval --tasks TASKS --include_path DIR` on the local HF `model` (float32, CPU,
    offline), results under `out`; fails the test with lm-eval's stderr tail."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(hf_cache), "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [str(LM_EVAL), "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
         "--tasks", tasks, "--include_path", str(include_path), "--device", "cpu",
         "--batch_size", str(batch_size), *(["--log_samples"] if log_samples else []),
         "--output_path", str(out)],
        capture_output=True, text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
