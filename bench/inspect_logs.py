"""Real Inspect AI logs for `lmaudit import inspect`: a tiny Inspect task on our own data.

Creates bench/.venvs/inspect (inspect-ai pinned, in its own environment), runs a
six-question arithmetic task with Inspect's built-in `mockllm/model` provider (answers
are computed from the question, two of them planted wrong; no network, no weights) and
two scorers (`match`, `includes`), once writing a `.eval` log and once a `.json` log.
Then imports both with `lmaudit import inspect` and prints Inspect's accuracy beside
lmaudit's. The test `tests/test_interop_inspect_real_log.py` uses `write_logs`.

    .venv/bin/python bench/inspect_logs.py [--out bench/out/inspect]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".venvs" / "inspect"
INSPECT_VERSION = "0.3.285"
QUESTIONS = [(1, 2), (3, 4), (10, 5), (7, 7), (2, 9), (6, 1)]
WRONG = {1, 4}  # the mock model's planted mistakes (sample index)

TASK_SCRIPT = """
import json, re, sys
from inspect_ai import Task, eval
from inspect_ai.dataset import json_dataset
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate

data, out = sys.argv[1], sys.argv[2]
wrong = set(json.loads(sys.argv[3]))

def answer(messages, tools, tool_choice, config):
    text = messages[-1].text
    a, b = map(int, re.search(r"What is (-?\\d+) \\+ (-?\\d+)", text).groups())
    index = int(re.search(r"\\[(\\d+)\\]", text).group(1))
    total = a + b + (1 if index in wrong else 0)
    output = ModelOutput.from_content("mockllm/model", f"The sum is {total}")
    output.usage = ModelUsage(input_tokens=len(text.split()), output_tokens=4,
                              total_tokens=len(text.split()) + 4)  # (no tokenizer download)
    return output

task = Task(dataset=json_dataset(data), solver=[generate()],
            scorer=[match(numeric=True), includes()], name="sums_inspect")
found = {}
for log_format in ("eval", "json"):
    model = get_model("mockllm/model", custom_outputs=answer)
    [log] = eval(task, model=model, log_dir=f"{out}/{log_format}", log_format=log_format,
                 display="none")
    assert log.status == "success", log.error
    found[log_format] = {
        "path": log.location,
        "accuracy": {s.name: s.metrics["accuracy"].value for s in log.results.scores},
        "scores": {str(s.id): {k: v.value for k, v in s.scores.items()} for s in log.samples},
    }
print(json.dumps(found))
"""


def ensure_inspect_venv() -> Path:
    """bench/.venvs/inspect with inspect-ai; returns its python."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"inspect-ai=={INSPECT_VERSION}"], check=True)
    return python


def write_data(path: Path) -> Path:
    """Our own six questions as an Inspect json dataset (input, target, id)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(
        json.dumps({"id": f"s{i}", "input": f"[{i}] What is {a} + {b}?", "target": str(a + b)})
        + "\n" for i, (a, b) in enumerate(QUESTIONS)))
    return path


def write_logs(python: Path, out: Path) -> dict[str, dict[str, object]]:
    """Run the Inspect task (both log formats) under `python`; Inspect's own figures:
    per format the log's path, each scorer's accuracy and each sample's score values."""
    data = write_data(out / "sums.jsonl")
    env = {"INSPECT_DISPLAY": "none", "INSPECT_LOG_LEVEL": "warning", "HOME": str(out),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(python), "-c", TASK_SCRIPT, str(data), str(out),
                           json.dumps(sorted(WRONG))],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"inspect task failed: {done.stderr[-3000:]}")
    found: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "inspect")
    args = parser.parse_args()
    from lmaudit.cli import main as lmaudit

    logs = write_logs(ensure_inspect_venv(), args.out)
    for log_format, found in logs.items():
        run_dir = args.out / f"imported-{log_format}"
        lmaudit(["import", "inspect", str(found["path"]), "--out", str(run_dir)])
        ours = json.loads((run_dir / "results.json").read_text())["metrics"]
        for scorer, value in dict(found["accuracy"]).items():  # type: ignore[call-overload]
            print(f"{log_format} {scorer}: Inspect {value!r} lmaudit {ours[scorer]['value']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
